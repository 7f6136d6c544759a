"""The default recipe with nothing set but the data, the task and a time budget, by the CLI, on real and synthetic sets.

Usage: python benchmarks/default_recipe.py [--only drive lesions pneumonia chest lungs] [--out /tmp/default-recipe]
                                          [--contrast-check drive lesions lungs]

Each set is trained by ``python -m medlib train --data DATA [--task segment] --max-minutes M`` and scored by
``python -m medlib evaluate`` on its test split:

- drive: ../shared/data/DRIVE, vessels, 15 minutes; the 20 official test images inside the field of view.
- lesions: the synthetic films' lesion masks (1,500 films of seed 1, written as .npz), 10 minutes.
- pneumonia: PneumoniaMNIST (official test split), 5 minutes.
- chest: chest_xray_224 (patient-grouped split, seed 0), 10 minutes; scored at the run's own threshold.
- lungs: lung_shenzhen (split seed 0), 10 minutes.

With ``--contrast-check SETS``, each of those segmentation sets is trained again, as long, with the contrast the
recipe did not choose (gray instead of its channel; CLAHE taken or left the other way), everything else as its card
records, and all are scored on the same validation images (their cards' figures): whether the choice made on
training masks helps on validation.

Prints the commands, each run's figures and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from medlib_cli import run

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

SETS = {
    "drive": (SHARED / "DRIVE", "segment", 15),
    "lesions": (None, "segment", 10),
    "pneumonia": (SHARED / "pneumoniamnist_28.npz", "classify", 5),
    "chest": (SHARED / "chest_xray_224", "classify", 10),
    "lungs": (SHARED / "lung_shenzhen", "segment", 10),
}


def contrast_variants(steps: list[dict]) -> dict[str, list[dict]]:
    """The derived preprocessing steps with the contrast the recipe did not choose: gray instead of its colour
    channel, and CLAHE taken or left the other way (CLAHE stands where the window would)."""
    mode = next(s["params"]["mode"] for s in steps if s["step"] == "color")
    clahe = any(s["step"] == "equalize" for s in steps)
    variants = {}
    if mode != "gray":
        gray = {"step": "color", "params": {"mode": "gray"}}
        variants["gray"] = [gray if s["step"] == "color" else s for s in steps]
    other = {"step": "window", "params": {"preset": "bits"}} if clahe else {"step": "equalize", "params": {}}
    variants["without CLAHE" if clahe else "with CLAHE"] = [
        other if s["step"] in ("window", "equalize") else s for s in steps
    ]
    return variants


def contrast_check(derived: Path, data: Path, minutes: float, folder: Path) -> dict:
    """Validation Dice of the derived contrast and of each other one, trained as long with the same recipe: each
    card's validation figure, on the same seeded validation images (held out of train where a set has no val)."""
    card = json.loads((derived / "card.json").read_text())
    cards = {"derived": card}
    for label, steps in contrast_variants(card["preprocess"]["steps"]).items():
        spec = folder / f"{label.replace(' ', '-')}.json"
        spec.write_text(json.dumps({**card["preprocess"], "steps": steps}))
        out = derived.parent / f"{derived.name}-{label.replace(' ', '-')}"
        run("train", "--data", str(data), "--task", "segment", "--max-minutes", str(minutes), "--preprocess",
            str(spec), "--out", str(out), "--overwrite")
        cards[label] = json.loads((out / "card.json").read_text())
    return {label: {key: c["metrics"]["val"].get(key) for key in ("dice", "dice_ci", "n")} | {
        "epochs": len(c["history"])} for label, c in cards.items()}


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(SETS), default=list(SETS))
    parser.add_argument("--out", default="/tmp/default-recipe")
    parser.add_argument("--contrast-check", nargs="+", choices=[n for n, s in SETS.items() if s[1] == "segment"],
                        default=[])
    args = parser.parse_args()
    figures: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only:
            data, task, minutes = SETS[name]
            if data is None:
                data = Path(folder) / "phantom-1500.npz"
                run("phantom", "--n", "1500", "--seed", "1", "--out", str(data))
            if not data.exists():
                print(f"{name}: skipped ({data} is absent)")
                continue
            out = f"{args.out}/{name}"
            trained = run("train", "--data", str(data), "--task", task, "--max-minutes", str(minutes), "--out", out,
                          "--overwrite")
            scored = run("evaluate", "--model", out, "--data", str(data), "--split", "test")
            keys = ("dice", "auc") if task == "segment" else ("auc", "accuracy", "sensitivity", "specificity", "ece")
            result = {key: scored[key] for key in keys} | {f"{key}_ci": scored.get(f"{key}_ci") for key in keys}
            result |= {"threshold": scored.get("threshold"), "n": scored["n"], "epochs": trained["epochs"],
                       "train_s": trained["seconds"], "ended": trained["ended"]}
            print(f"{name}: {json.dumps(result)}", flush=True)
            if name in args.contrast_check:
                result["contrast_check"] = contrast_check(Path(out), data, minutes, Path(folder))
                print(f"{name} contrast check: {json.dumps(result['contrast_check'])}", flush=True)
            figures[name] = result
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
