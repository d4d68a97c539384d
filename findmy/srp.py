"""SRP-6a as Apple's GSA login speaks it, the GSA password key and the `spd` cipher. Pure:
no Django import, so the login client, the simulator and the tests share one definition.

The group is RFC 5054's 2048-bit group with SHA-256; `Group` keeps both parameters so RFC
5054's own test vectors (1024-bit, SHA-1) check this very code. With PAD(n) = n as many bytes
as N and H the group's hash:

    k  = H(N | PAD(g))                  u = H(PAD(A) | PAD(B))
    x  = H(s | H(I | ":" | P))          Apple leaves the username out: I = "" here
    v  = g^x                            A = g^a        B = k*v + g^b
    S  = (B - k*v)^(a + u*x) (client)   S = (A * v^u)^b (server)
    K  = H(S)
    M1 = H(H(N) xor H(PAD(g)) | H(I) | s | A | B | K)   with the username
    M2 = H(A | M1 | K)

Numbers on the wire (A, B) and inside M1/M2/K are big-endian without leading zero bytes; the
salt is used exactly as Apple sends it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PROTOCOLS = ("s2k", "s2k_fo")


class SrpError(ValueError):
    """The other side sent a value that SRP-6a must refuse (B or u zero mod N, a bad proof)."""


@dataclass(frozen=True)
class Group:
    N: int
    g: int
    hash_name: str

    @property
    def length(self) -> int:
        return (self.N.bit_length() + 7) // 8

    def hash(self, *parts: bytes) -> bytes:
        digest = hashlib.new(self.hash_name)
        for part in parts:
            digest.update(part)
        return digest.digest()

    def pad(self, n: int) -> bytes:
        return n.to_bytes(self.length, "big")


# RFC 5054, appendix A, the 2048-bit group.
RFC5054_2048 = Group(
    N=int(
        "AC6BDB41324A9A9BF166DE5E1389582FAF72B6651987EE07FC3192943DB56050A37329CBB4A099ED8193E0"
        "757767A13DD52312AB4B03310DCD7F48A9DA04FD50E8083969EDB767B0CF6095179A163AB3661A05FBD5FA"
        "AAE82918A9962F0B93B855F97993EC975EEAA80D740ADBF4FF747359D041D5C33EA71D281E446B14773BCA"
        "97B43A23FB801676BD207A436C6481F1D2B9078717461A5B9D32E688F87748544523B524B0D57D5EA77A27"
        "75D2ECFA032CFBDBF52FB3786160279004E57AE6AF874E7303CE53299CCC041C7BC308D82A5698F3A8D0C3"
        "8271AE35F8E9DBFBB694B5C803D89F7AE435DE236D525F54759B65E372FCD68EF20FA7111F9E4AFF73",
        16,
    ),
    g=2,
    hash_name="sha256",
)


def to_bytes(n: int) -> bytes:
    """Big-endian, no leading zero bytes (how A and B travel)."""
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def from_bytes(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def multiplier(group: Group) -> int:
    return from_bytes(group.hash(to_bytes(group.N), group.pad(group.g)))


def scrambler(group: Group, A: int, B: int) -> int:  # noqa: N803 - SRP's names
    return from_bytes(group.hash(group.pad(A), group.pad(B)))


def private_key(group: Group, salt: bytes, password: bytes, username: bytes = b"") -> int:
    """x. Apple's GSA passes no username (`username=b""`); RFC 5054's vectors pass one."""
    return from_bytes(group.hash(salt, group.hash(username + b":" + password)))


def verifier(group: Group, x: int) -> int:
    return pow(group.g, x, group.N)


def client_premaster(group: Group, *, a: int, B: int, x: int, u: int) -> int:  # noqa: N803
    k = multiplier(group)
    return pow((B - k * verifier(group, x)) % group.N, a + u * x, group.N)


def proof_m1(group: Group, *, username: bytes, salt: bytes, A: int, B: int, K: bytes) -> bytes:  # noqa: N803
    hn = group.hash(to_bytes(group.N))
    hg = group.hash(group.pad(group.g))
    n_xor_g = bytes(x ^ y for x, y in zip(hn, hg, strict=True))
    return group.hash(n_xor_g, group.hash(username), salt, to_bytes(A), to_bytes(B), K)


def proof_m2(group: Group, *, A: int, M1: bytes, K: bytes) -> bytes:  # noqa: N803
    return group.hash(to_bytes(A), M1, K)


class SrpClient:
    """One SRP-6a login attempt, client side. `a` is drawn fresh unless a test gives one."""

    def __init__(self, username: str, *, group: Group = RFC5054_2048, a: int | None = None):
        self.group = group
        self.username = username.encode()
        self._a = a if a is not None else secrets.randbits(256) | (1 << 255)
        self.A = pow(group.g, self._a, group.N)
        self.session_key: bytes | None = None
        self._m1: bytes | None = None

    @property
    def public_key(self) -> bytes:
        return to_bytes(self.A)

    def process_challenge(self, *, salt: bytes, server_public: bytes, password_key: bytes) -> bytes:
        """M1 for the server's salt and B, from the password key (see `password_key`)."""
        group = self.group
        B = from_bytes(server_public)  # noqa: N806
        if B % group.N == 0:
            raise SrpError("the server's public value B is zero modulo N")
        u = scrambler(group, self.A, B)
        if u == 0:
            raise SrpError("the scrambling parameter u is zero")
        x = private_key(group, salt, password_key)
        S = client_premaster(group, a=self._a, B=B, x=x, u=u)  # noqa: N806
        self.session_key = group.hash(to_bytes(S))
        self._m1 = proof_m1(
            group, username=self.username, salt=salt, A=self.A, B=B, K=self.session_key
        )
        return self._m1

    def verify_server(self, m2: bytes) -> bool:
        """True when the server's M2 proves it knows the verifier too."""
        if self._m1 is None or self.session_key is None:
            return False
        expected = proof_m2(self.group, A=self.A, M1=self._m1, K=self.session_key)
        return hmac.compare_digest(expected, bytes(m2 or b""))


def password_key(password: str, *, salt: bytes, iterations: int, protocol: str) -> bytes:
    """The SRP password: PBKDF2-HMAC-SHA256 over sha256(password), or over its hex for s2k_fo."""
    if protocol not in PROTOCOLS:
        raise SrpError(f"password protocol {protocol!r} is not one of {PROTOCOLS}")
    digest = hashlib.sha256(password.encode()).digest()
    secret = digest.hex().encode() if protocol == "s2k_fo" else digest
    return hashlib.pbkdf2_hmac("sha256", secret, salt, iterations, dklen=32)


def _spd_cipher(session_key: bytes) -> Cipher:
    key = hmac.new(session_key, b"extra data key:", hashlib.sha256).digest()
    iv = hmac.new(session_key, b"extra data iv:", hashlib.sha256).digest()[:16]
    return Cipher(algorithms.AES(key), modes.CBC(iv))


def decrypt_spd(session_key: bytes, ciphertext: bytes) -> bytes:
    """The `spd` of a GSA `complete` answer: AES-256-CBC, PKCS#7, key and IV from K."""
    decryptor = _spd_cipher(session_key).decryptor()
    padded = decryptor.update(bytes(ciphertext)) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()
