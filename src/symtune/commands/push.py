"""symtune push RUN_OR_ADAPTER --repo-id ID [--private]: upload a tuned adapter or model to the Hub.

    symtune push runs/demo --repo-id me/smollm2-symbol-tuned          # OUT/train + OUT/report
    symtune push runs/lora --repo-id me/smollm2-symbol-tuned --private

Given a `symtune run` folder, uploads OUT/train (adapter or model, model card, log) and OUT/report
(under report/ in the repo); given a training folder, uploads that folder. Checkpoints stay local.
The model card is written or refreshed first (with OUT/eval_tuned's results when there are some).
"""

HELP = "Upload a trained adapter or model, its model card and the report to the Hugging Face Hub."

# Never uploaded: resumable checkpoints (optimizer state), and every hidden file or folder at any depth:
# symtune's temporaries (`.NAME.<pid>-XXXX.tmp`, maybe half-written), its lock and file list, `.stages/`.
# (The Hub matches with fnmatch, whose `*` also matches `/`.)
IGNORE = ["checkpoints/*", ".*", "*/.*"]


def add_arguments(p):
    p.add_argument("path", metavar="RUN_OR_ADAPTER",
                   help="a `symtune run` folder (uploads OUT/train and OUT/report) or a `symtune train` folder")
    p.add_argument("--repo-id", required=True, help="Hub repository to create or update, e.g. me/smollm2-st")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--commit-message", default="Upload symbol-tuned model with symtune",
                   help="commit message on the Hub")


def locate(path) -> tuple:
    """(model folder, report folder or None, eval folder or None) for a run or training folder."""
    from pathlib import Path

    from symtune.errors import SymtuneError

    p = Path(path)
    if not p.is_dir():
        raise SymtuneError(f"{p} is not a folder; pass a `symtune run` or `symtune train` output folder")
    if (p / "train").is_dir() and (p / "run.json").is_file():
        report = p / "report" if (p / "report").is_dir() else None
        evals = p / "eval_tuned" if (p / "eval_tuned" / "results.json").is_file() else None
        p = p / "train"
    else:
        report = evals = None
    adapter = (p / "adapter_config.json").is_file() and any(p.glob("adapter_model.*"))
    full = (p / "config.json").is_file() and (any(p.glob("*.safetensors")) or any(p.glob("*.bin")))
    if not (adapter or full):
        raise SymtuneError(f"{p} holds no adapter (adapter_config.json + adapter_model.safetensors) or model "
                           "(config.json + weights); pass a finished `symtune train` or `symtune run` folder")
    return p, report, evals


def check_repo_id(repo_id: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    from symtune.errors import SymtuneError

    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        reason = str(e).splitlines()[0].rstrip(".")
        raise SymtuneError(f"--repo-id {repo_id!r} is not a valid Hub repository id ({reason}); "
                           "use NAMESPACE/NAME with letters, digits, '-', '_', '.'") from None


def _network_errors() -> tuple:
    """Transport errors of whichever HTTP client this huggingface_hub uses (httpx2, httpx or requests)."""
    import importlib

    found = [OSError]
    for module, name in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def push(path, repo_id: str, private: bool = False, commit_message: str = "Upload with symtune") -> str:
    """Upload; returns the repository URL. Raises SymtuneError on bad input or a Hub refusal."""
    from huggingface_hub import HfApi, constants, get_token
    from huggingface_hub.errors import HfHubHTTPError

    from symtune.card import write_model_card
    from symtune.errors import SymtuneError

    check_repo_id(repo_id)
    model_dir, report_dir, eval_dir = locate(path)
    if constants.HF_HUB_OFFLINE:
        raise SymtuneError("HF_HUB_OFFLINE is set, so nothing can be uploaded; unset it to push")
    token = get_token()
    if not token:
        raise SymtuneError("no Hugging Face token found; run `hf auth login` or set HF_TOKEN (a write token)")
    if (model_dir / "symtune_train.json").is_file():
        write_model_card(model_dir, results=eval_dir)
    api = HfApi(token=token)
    try:  # list(IGNORE): upload_folder extends the list it is given
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(repo_id=repo_id, folder_path=str(model_dir), commit_message=commit_message,
                          ignore_patterns=list(IGNORE))
        if report_dir is not None:
            api.upload_folder(repo_id=repo_id, folder_path=str(report_dir), path_in_repo="report",
                              commit_message=commit_message + " (report)", ignore_patterns=list(IGNORE))
    except HfHubHTTPError as e:
        raise SymtuneError(f"the Hub refused the upload to {repo_id}: {str(e).splitlines()[0]}") from None
    except _network_errors() as e:  # no network, DNS, proxy, timeout: the message holds no token
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SymtuneError(f"cannot reach the Hub to upload to {repo_id} ({reason}); check the network "
                           "connection (or HF_ENDPOINT) and rerun") from None
    return str(url)


def run(args) -> int:
    url = push(args.path, args.repo_id, private=args.private, commit_message=args.commit_message)
    print(f"symtune push: uploaded {args.path} to {url}")
    return 0
