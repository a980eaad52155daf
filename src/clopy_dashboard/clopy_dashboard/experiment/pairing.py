"""Pairing a central dashboard with the dashboards of rig computers: the token files and
which rigs this computer is the host of (docs/experiments.md, "Rigs on other computers").

- The rig computer's `clopy dashboard --token-file FILE` reads its token from FILE, or
  makes a new one and writes it there (mode 0600) when FILE does not exist yet.
- The central computer's `clopy dashboard --rig-token RIG=FILE` (or ``CLOPY_RIG_TOKENS=
  RIG=FILE[,RIG=FILE...]``) reads the token it sends to that rig's dashboard from a copy
  of that file.
- A token file readable or writable by anyone but its owner is refused (its name and mode
  said). A token is never printed nor logged; the experiment file holds none.
- ``CLOPY_RIG=NAME[,NAME...]`` (`clopy dashboard --rig NAME` sets it for the runs it
  starts) names the rigs whose `host:` is this computer: their sessions run here.

Plain Python."""
from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path

TOKENS_ENV = 'CLOPY_RIG_TOKENS'
RIG_ENV = 'CLOPY_RIG'
_TOKEN = re.compile(r'^[A-Za-z0-9._~+/=-]{16,512}$')


class PairingError(ValueError):
    """A token file or a pairing option that cannot be used (names the file or the option)."""


def read_token_file(path: str | Path) -> str:
    """The token in FILE; PairingError when FILE is missing, open to others or holds no token."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise PairingError(f'{path}: cannot read the token file ({exc.strerror})') from None
    if not stat.S_ISREG(st.st_mode):
        raise PairingError(f'{path}: not a regular file; a token file is a file of one line')
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise PairingError(f'{path}: mode {mode:04o} lets others read or change the token; allowed: readable '
                           f'by its owner only (chmod 600 {path})')
    try:
        text = path.read_text(encoding='ascii').strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise PairingError(f'{path}: cannot read the token file ({exc})') from None
    if not _TOKEN.match(text):
        raise PairingError(f'{path}: holds no token; allowed: one line of 16-512 characters A-Z a-z 0-9 . _ ~ + / = - '
                           '(delete the file and let the rig\'s `clopy dashboard --token-file` make a new one)')
    return text


def token_file(path: str | Path) -> tuple[str, bool]:
    """(token, made): the token in FILE, or a new one written to FILE (0600) when FILE does
    not exist."""
    path = Path(path)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)   # e.g. ~/.clopy on a new computer
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_token_file(path), False
    except OSError as exc:
        raise PairingError(f'{path}: cannot make the token file ({exc.strerror})') from None
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, 'w', encoding='ascii') as fh:
        fh.write(token + '\n')
    os.chmod(path, 0o600)   # whatever the umask
    return token, True


def rig_tokens(options: list[str] | None, env: str | None = None) -> dict[str, str]:
    """{rig: token} from `--rig-token RIG=FILE` options and CLOPY_RIG_TOKENS (an option wins)."""
    items = [(f'{TOKENS_ENV}', x) for x in (env or '').split(',') if x.strip()]
    items += [('--rig-token', x) for x in options or []]
    tokens: dict[str, str] = {}
    for where, item in items:
        rig, sep, file = item.strip().partition('=')
        if not sep or not rig.strip() or not file.strip():
            raise PairingError(f'{where} {item!r}; allowed: RIG=FILE (the rig\'s name in the experiment file, a '
                               'copy of the token file of its dashboard)')
        tokens[rig.strip()] = read_token_file(file.strip())
    return tokens


def local_rigs(env: dict | None = None) -> set[str]:
    """The rigs whose host is this computer (CLOPY_RIG)."""
    value = (os.environ if env is None else env).get(RIG_ENV, '')
    return {name.strip() for name in value.split(',') if name.strip()}
