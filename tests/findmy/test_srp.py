"""SRP-6a against RFC 5054's test vectors, and the GSA password key and spd cipher."""

import hashlib
import hmac
import json
import random
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from findmy import srp

VECTORS = json.loads(
    (Path(__file__).parent.parent / "data" / "rfc5054_srp_vectors.json").read_text()
)


def num(name: str) -> int:
    return int(VECTORS[name].replace(" ", ""), 16)


def raw(name: str) -> bytes:
    return bytes.fromhex(VECTORS[name].replace(" ", ""))


RFC_GROUP = srp.Group(N=num("N"), g=num("g"), hash_name=VECTORS["H"])


def test_rfc5054_multiplier_private_key_and_verifier():
    assert srp.multiplier(RFC_GROUP) == num("k")
    x = srp.private_key(RFC_GROUP, raw("s"), VECTORS["P"].encode(), username=b"alice")
    assert x == num("x")
    assert srp.verifier(RFC_GROUP, x) == num("v")


def test_rfc5054_client_public_value_scrambler_and_premaster_secret():
    client = srp.SrpClient(VECTORS["I"], group=RFC_GROUP, a=num("a"))
    assert num("A") == client.A
    assert srp.scrambler(RFC_GROUP, num("A"), num("B")) == num("u")
    x = srp.private_key(RFC_GROUP, raw("s"), b"password123", username=b"alice")
    assert srp.client_premaster(RFC_GROUP, a=num("a"), B=num("B"), x=x, u=num("u")) == num("S")


def test_rfc5054_server_values_agree():
    """B = k*v + g^b and the server's premaster (A * v^u)^b are the same S."""
    group = RFC_GROUP
    b_public = (num("k") * num("v") + pow(group.g, num("b"), group.N)) % group.N
    assert b_public == num("B")
    server_s = pow(num("A") * pow(num("v"), num("u"), group.N), num("b"), group.N)
    assert server_s == num("S")


def _is_probable_prime(n: int, rounds: int = 8) -> bool:
    rng = random.Random(5054)
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def test_group_is_rfc5054_2048_bit_safe_prime():
    assert num("group_2048") == srp.RFC5054_2048.N
    assert srp.RFC5054_2048.N.bit_length() == 2048
    assert srp.RFC5054_2048.g == 2 and srp.RFC5054_2048.hash_name == "sha256"
    assert _is_probable_prime(srp.RFC5054_2048.N)
    assert _is_probable_prime((srp.RFC5054_2048.N - 1) // 2)


def _server_side(username: str, salt: bytes, key: bytes):
    """An SRP server written from the formulas, to run the client against."""
    group = srp.RFC5054_2048
    h = hashlib.sha256
    pad = group.pad
    x = int.from_bytes(h(salt + h(b":" + key).digest()).digest(), "big")
    v = pow(2, x, group.N)
    k = int.from_bytes(h(group.N.to_bytes(256, "big") + pad(2)).digest(), "big")
    b = 0x1234567890ABCDEF
    big_b = (k * v + pow(2, b, group.N)) % group.N

    def finish(a_public: int, m1: bytes) -> tuple[bool, bytes, bytes]:
        u = int.from_bytes(h(pad(a_public) + pad(big_b)).digest(), "big")
        s = pow(a_public * pow(v, u, group.N), b, group.N)
        key_k = h(srp.to_bytes(s)).digest()
        hn, hg = h(srp.to_bytes(group.N)).digest(), h(pad(2)).digest()
        expected = h(
            bytes(p ^ q for p, q in zip(hn, hg, strict=True))
            + h(username.encode()).digest()
            + salt
            + srp.to_bytes(a_public)
            + srp.to_bytes(big_b)
            + key_k
        ).digest()
        return expected == m1, h(srp.to_bytes(a_public) + m1 + key_k).digest(), key_k

    return big_b, finish


@pytest.mark.parametrize("protocol", ["s2k", "s2k_fo"])
def test_client_exchange_proves_the_password_and_checks_the_server(protocol):
    salt = bytes(range(16))
    key = srp.password_key("correct horse", salt=salt, iterations=1000, protocol=protocol)
    big_b, finish = _server_side("user@example.com", salt, key)
    client = srp.SrpClient("user@example.com")
    m1 = client.process_challenge(salt=salt, server_public=srp.to_bytes(big_b), password_key=key)
    ok, m2, server_key = finish(client.A, m1)
    assert ok
    assert client.session_key == server_key
    assert client.verify_server(m2)
    assert not client.verify_server(m2[:-1] + bytes([m2[-1] ^ 1]))


def test_client_with_the_wrong_password_is_refused_by_the_server():
    salt = b"\x00" + bytes(range(15))  # a salt with a leading zero byte is used as sent
    right = srp.password_key("right", salt=salt, iterations=1000, protocol="s2k")
    wrong = srp.password_key("wrong", salt=salt, iterations=1000, protocol="s2k")
    big_b, finish = _server_side("u", salt, right)
    client = srp.SrpClient("u")
    m1 = client.process_challenge(salt=salt, server_public=srp.to_bytes(big_b), password_key=wrong)
    assert finish(client.A, m1)[0] is False


def test_unsafe_server_value_is_refused():
    client = srp.SrpClient("u")
    with pytest.raises(srp.SrpError):
        client.process_challenge(
            salt=b"s", server_public=srp.to_bytes(srp.RFC5054_2048.N), password_key=b"k"
        )


def test_password_key_s2k_and_s2k_fo():
    salt, iterations = b"0123456789abcdef", 2000
    digest = hashlib.sha256("pässword".encode()).digest()

    def pbkdf2(secret: bytes) -> bytes:
        kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations)
        return kdf.derive(secret)

    s2k = srp.password_key("pässword", salt=salt, iterations=iterations, protocol="s2k")
    s2k_fo = srp.password_key("pässword", salt=salt, iterations=iterations, protocol="s2k_fo")
    assert s2k == pbkdf2(digest)
    assert s2k_fo == pbkdf2(digest.hex().encode())
    assert s2k != s2k_fo
    with pytest.raises(srp.SrpError):
        srp.password_key("p", salt=salt, iterations=1, protocol="s2k_legacy")


def test_spd_decrypts_what_aes_cbc_with_keys_from_k_encrypted():
    session_key = hashlib.sha256(b"session").digest()
    key = hmac.new(session_key, b"extra data key:", hashlib.sha256).digest()
    iv = hmac.new(session_key, b"extra data iv:", hashlib.sha256).digest()[:16]
    padder = padding.PKCS7(128).padder()
    plaintext = b"<plist><dict><key>adsid</key><string>X</string></dict></plist>"
    data = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(data) + encryptor.finalize()
    assert srp.decrypt_spd(session_key, ciphertext) == plaintext
    with pytest.raises(ValueError):
        srp.decrypt_spd(hashlib.sha256(b"other").digest(), ciphertext)
