"""The symbol-tuning data builder: tasks -> symbol-labelled few-shot prompts (JSONL rows)."""
