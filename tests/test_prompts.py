from symtune.prompting.templates import TEMPLATES, completion, get_template, render
from symtune.tasks.base import Example


def test_ten_distinct_templates():
    assert len(TEMPLATES) >= 10
    assert len({(t.input_prefix, t.label_prefix) for t in TEMPLATES}) == len(TEMPLATES)
    assert [t.id for t in TEMPLATES] == list(range(len(TEMPLATES)))


def test_render_spans_and_completion():
    exs = [(Example("great film", 0), "foo"), (Example("awful", 1), "7342")]
    for fmt in TEMPLATES:
        r = render(fmt, exs, Example("fine", 0), instruction=None)
        assert [r.prompt[s:e] for s, e in r.label_spans] == ["foo", "7342"]
        assert r.prompt.endswith(fmt.label_prefix) and not r.prompt.endswith(" ")
        assert completion("foo") == " foo"
    r = render(get_template(0), exs, Example("fine", 0))
    assert r.prompt == "Input: great film\nOutput: foo\n\nInput: awful\nOutput: 7342\n\nInput: fine\nOutput:"
    r = render(get_template(8), exs, Example("fine", 0))
    assert r.prompt == "great film -> foo\n\nawful -> 7342\n\nfine ->"


def test_instruction_and_pairs():
    fmt = get_template(4)
    r = render(fmt, [(Example("A man sleeps.", 1, text_pair="A man is awake."), "no")],
               Example("p", 0, text_pair="h"), instruction="Does the first sentence entail the second?")
    assert r.prompt.startswith("Does the first sentence entail the second?\n\nQuestion: A man sleeps.\nA man is awake.\nAnswer: no")
    assert r.prompt[r.label_spans[0][0]:r.label_spans[0][1]] == "no"
    assert r.prompt.endswith("Question: p\nh\nAnswer:")


def test_one_rule_drops_exemplars_to_fit():
    from symtune.prompting.templates import exemplar_to_drop

    assert exemplar_to_drop([0, 1, 0, 1, 0]) == 4          # most exemplars: class 0, its last one
    assert exemplar_to_drop([0, 1, 1, 0]) == 2             # tie: the highest class id, its last one
    assert exemplar_to_drop([2, 0, 1]) is None             # one per class is kept
    assert exemplar_to_drop([]) is None
