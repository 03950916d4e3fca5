"""`acie keys`: Paillier key pairs and AES-GCM keys for blind inference and telemetry.

``--json`` prints one JSON object; sizes are in bits (``bits``), durations in seconds
(``seconds``). Secret material is written to files with mode 0600 and never printed,
except the AES key spec of ``acie keys aes`` when no ``--out`` file is given.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from acie.errors import ConflictError, InputValidationError

app = typer.Typer(
    help="Paillier key pairs and AES-GCM keys for blind inference and telemetry.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite existing files.")]
InsecureOpt = Annotated[
    bool,
    typer.Option(
        "--allow-insecure-mode",
        help="Load a private key file that the group or others may read (refused by default).",
    ),
]


def _emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, sort_keys=True) if as_json else text)


def _refuse_overwrite(paths: list[Path], force: bool) -> None:
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise ConflictError(f"refusing to overwrite {', '.join(existing)}; pass --force to replace")


@app.command()
def paillier(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the key files (created if missing).")
    ] = Path("."),
    name: Annotated[
        str, typer.Option(help="File name stem: NAME.key.json (private), NAME.pub.json.")
    ] = "paillier",
    bits: Annotated[
        int, typer.Option(help="Bit length of the modulus n (2048 or more for real use).")
    ] = 2048,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Generate a Paillier key pair: private key file (mode 0600) and public key file.

    Under ``ACIE_ENV=production`` (or staging) keys under 2048 bits are refused.
    """
    from acie.config import get_settings
    from acie.privacy.paillier import generate_keypair
    from acie.serve.policy import MIN_PRODUCTION_KEY_BITS

    if not name or "/" in name or name.startswith("."):
        raise InputValidationError(f"--name must be a plain file name stem; got {name!r}")
    env = get_settings().ACIE_ENV
    if env.strict and bits < MIN_PRODUCTION_KEY_BITS:
        raise InputValidationError(
            f"ACIE_ENV={env.value} refuses Paillier keys under {MIN_PRODUCTION_KEY_BITS} bits; "
            f"got --bits {bits}"
        )
    out.mkdir(parents=True, exist_ok=True)
    priv, pub = out / f"{name}.key.json", out / f"{name}.pub.json"
    _refuse_overwrite([priv, pub], force)
    t0 = time.perf_counter()
    public_key, private_key = generate_keypair(bits)
    seconds = time.perf_counter() - t0
    private_key.save(priv)
    public_key.save(pub)
    _emit(
        {
            "private_key": str(priv),
            "public_key": str(pub),
            "bits": public_key.bits,
            "fingerprint": public_key.fingerprint,
            "seconds": seconds,
        },
        as_json,
        f"Paillier {public_key.bits}-bit key pair {public_key.fingerprint[:16]}…\n"
        f"  private: {priv} (mode 0600; keep it secret)\n  public:  {pub}",
    )


@app.command("export-public")
def export_public(
    private_key: Annotated[
        Path, typer.Argument(help="Private key file from `acie keys paillier`.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Public key file to write.")],
    force: ForceOpt = False,
    allow_insecure_mode: InsecureOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write the public key of a private key file (what a server is given).

    A private key file that the group or others may read is refused (``chmod 600`` it),
    unless ``--allow-insecure-mode``.
    """
    from acie.privacy.paillier import PaillierPrivateKey

    _refuse_overwrite([out], force)
    key = PaillierPrivateKey.load(private_key, allow_insecure_mode=allow_insecure_mode)
    key.public_key.save(out)
    _emit(
        {"public_key": str(out), "bits": key.public_key.bits, "fingerprint": key.fingerprint},
        as_json,
        f"public key {key.fingerprint[:16]}… written to {out}",
    )


@app.command()
def aes(
    key_id: Annotated[
        str | None, typer.Option("--key-id", help="Key id (default: fingerprint of the key).")
    ] = None,
    bits: Annotated[int, typer.Option(help="AES key size: 128, 192 or 256.")] = 256,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the key spec here (mode 0600) instead of printing it."),
    ] = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Generate an AES-GCM key; the spec ``KEY_ID:BASE64`` is what TELEMETRY_KEY takes."""
    from acie.privacy.aead import Keyring

    ring = Keyring.generate(key_id=key_id, bits=bits)
    spec = ring.to_base64()
    data: dict[str, Any] = {"key_id": ring.current, "bits": bits}
    if out is not None:
        _refuse_overwrite([out], force)
        from acie.privacy.keyfile import PRIVATE_FILE_MODE, write_text_atomic

        write_text_atomic(out, spec + "\n", mode=PRIVATE_FILE_MODE)
        data["file"] = str(out)
        _emit(data, as_json, f"AES-{bits} key {ring.current} written to {out} (mode 0600)")
    else:
        data["spec"] = spec
        _emit(data, as_json, spec)


@app.command()
def inspect(
    path: Annotated[Path, typer.Argument(help="A Paillier key file.")],
    as_json: JsonOpt = False,
) -> None:
    """Show the kind, size and fingerprint of a Paillier key file (never the secret).

    Warns (``warning`` in ``--json``; a line on stderr otherwise) when a private key file
    may be read by the group or others.
    """
    from acie.privacy.keyfile import insecure_mode_warning, read_json
    from acie.privacy.paillier import PaillierPrivateKey, PaillierPublicKey

    data = read_json(path, what="Paillier key")
    warning = None
    if data.get("kind") == "acie.paillier.private/v1":
        key = PaillierPrivateKey.from_dict(data).public_key
        kind = "private"
        warning = insecure_mode_warning(path)
    else:
        key = PaillierPublicKey.from_dict(data)
        kind = "public"
    mode = oct(path.stat().st_mode & 0o777)
    info: dict[str, Any] = {
        "kind": kind,
        "bits": key.bits,
        "fingerprint": key.fingerprint,
        "mode": mode,
    }
    if warning is not None:
        info["warning"] = warning
        if not as_json:
            typer.echo(f"warning: {warning}", err=True)
    _emit(
        info,
        as_json,
        f"{kind} Paillier key, {key.bits} bits, fingerprint {key.fingerprint}, mode {mode}",
    )
