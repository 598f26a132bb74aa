"""``poselift models``: list the models shipped inside the package."""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list shipped pretrained models and their cards",
                       description="List the pretrained models inside the package: name, kind, "
                                   "receptive field, training frame rate, licence and measured metrics.")
    p.add_argument("name", nargs="?", help="print the full model card of this model as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from poselift.errors import InputError
    from poselift.lift.weights import list_models

    models = list_models()
    if args.name:
        if args.name not in models:
            raise InputError(f"no shipped model named {args.name!r} (shipped: {', '.join(models) or 'none'})")
        print(json.dumps(models[args.name], indent=2, sort_keys=True))
        return 0
    if not models:
        print("no models shipped in this installation")
        return 0
    print(f"{'name':<12} {'kind':<11} {'frames':>6} {'fps':>5}  licence")
    for name, card in models.items():
        arch = card.get("architecture", {})
        rf = 1
        for w in arch.get("filter_widths", []):
            rf *= w
        print(f"{name:<12} {card.get('kind', 'pose'):<11} {rf:>6} {card.get('fps', '?'):>5}  "
              f"{card.get('licence', '?')}")
    return 0
