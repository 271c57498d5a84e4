"""Master keys by hand (local runs and operators).

- ``python -m tirek.crypto new-key``: a fresh master key, base64 (for ``TIREK_MASTER_KEY``);
- ``python -m tirek.crypto key-id KEY``: the id a master key is stored under (``kek_id``);
- ``python -m tirek.crypto rotate-master-file [--file .tirek/keys/master.key]``: a new local
  master key; the old one stays accepted (``master.key.accepted``) until retired;
- ``python -m tirek.crypto retire-master-file KEK_ID [--file ...]``: forget an accepted key
  (after every service's ``keys rewrap`` reports it unused).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tirek.crypto.kek import FileKeyProvider, decode_key, kek_id_of, new_encoded_key


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tirek.crypto")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("new-key", help="print a fresh master key (base64)")
    key_id = commands.add_parser("key-id", help="print the id of a master key")
    key_id.add_argument("key")
    rotate = commands.add_parser("rotate-master-file", help="new local master key")
    rotate.add_argument("--file", default=".tirek/keys/master.key")
    retire = commands.add_parser("retire-master-file", help="forget an accepted master key")
    retire.add_argument("kek_id")
    retire.add_argument("--file", default=".tirek/keys/master.key")
    args = parser.parse_args(argv)
    if args.command == "new-key":
        print(new_encoded_key())
    elif args.command == "key-id":
        print(kek_id_of(decode_key(args.key)))
    elif args.command == "rotate-master-file":
        old, new = FileKeyProvider(Path(args.file)).rotate()
        print(f"master key {new} is current; {old} stays accepted until retired")
        print("next: `python -m intake keys rewrap` and `python -m referral keys rewrap`")
    else:
        if not FileKeyProvider(Path(args.file)).retire(args.kek_id):
            raise SystemExit(f"no accepted master key {args.kek_id}")
        print(f"master key {args.kek_id} retired")


if __name__ == "__main__":
    main()
