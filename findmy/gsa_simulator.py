"""The login half of the FindMy simulator: Apple's GSA (SRP-6a, server side), both second
factors and iCloud's loginDelegates, for one configurable Apple ID.

The server keeps only what Apple keeps: a salt, an iteration count and the SRP verifier made
from the password (s2k or s2k_fo). It checks the client's M1 against that verifier, so a
client with any mistake in its SRP, PBKDF2 or password protocol is refused. Its arithmetic is
written here on its own (only RFC 5054's group constants are shared with `findmy.srp`).

    POST /grandslam/GsService2                 init / complete (plist)
    GET  /auth/verify/trusteddevice            a code appears on the "trusted devices"
    GET  /grandslam/GsService2/validate        submit it (security-code header)
    GET  /auth                                 HTML with the trusted phone numbers
    PUT  /auth/verify/phone                    send a code by "SMS"
    POST /auth/verify/phone/securitycode       submit it
    POST /setup/iosbuddy/loginDelegates        PET -> dsid + searchPartyToken
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import plistlib
import secrets
import threading
from collections import Counter
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from .srp import RFC5054_2048

GSA_PATH = "/grandslam/GsService2"
VALIDATE_PATH = "/grandslam/GsService2/validate"
TRUSTED_DEVICE_PATH = "/auth/verify/trusteddevice"
AUTH_PAGE_PATH = "/auth"
SMS_REQUEST_PATH = "/auth/verify/phone"
SMS_SUBMIT_PATH = "/auth/verify/phone/securitycode"
DELEGATES_PATH = "/setup/iosbuddy/loginDelegates"
SECOND_FACTORS = ("trusted_device", "sms", "none")

_N, _G = RFC5054_2048.N, RFC5054_2048.g
_LEN = 256


@dataclass
class GsaAccountConfig:
    """The one Apple ID the simulator knows."""

    username: str = "demo@example.com"
    password: str = "demo-apple-password"
    code: str = "123456"
    second_factor: str = "trusted_device"  # trusted_device | sms | none
    protocol: str = "s2k"  # s2k | s2k_fo
    iterations: int = 1000  # Apple uses more; the login test runs many of these
    phone_numbers: tuple[tuple[int, str], ...] = ((1, "+49 151 23456789"), (2, "+1 415 5550123"))
    dsid: str = "1000000001"
    account_limit_reached: bool = False
    # After one passed second factor, later logins need none (as Apple trusts the device).
    # True asks for it on every new login: only the login that follows an accepted code gets
    # through, so a later re-login cannot finish on its own.
    always_second_factor: bool = False
    seed: int = 1


def _sha(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def _num(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def _raw(n: int, width: int | None = None) -> bytes:
    return n.to_bytes(width or max(1, (n.bit_length() + 7) // 8), "big")


class GsaSimulator:
    def __init__(self, config: GsaAccountConfig | None = None):
        self.config = config or GsaAccountConfig()
        c = self.config
        if c.second_factor not in SECOND_FACTORS:
            raise ValueError(f"second_factor must be one of {SECOND_FACTORS}")
        if c.protocol not in ("s2k", "s2k_fo"):
            raise ValueError("protocol must be s2k or s2k_fo")
        self._lock = threading.Lock()
        self.salt = _sha(f"{c.seed}|salt|{c.username}".encode())[:16]
        self.verifier = self._make_verifier(c.password)
        self.adsid = "000" + _sha(f"{c.seed}|adsid|{c.username}".encode()).hex()[:29].upper()
        self._handshakes: dict[str, dict] = {}
        self._identities: dict[str, dict] = {}  # identity token -> {"method", "phone_id"}
        self._pets: set[str] = set()
        self.issued_tokens: set[str] = set()
        self.revoked_tokens: set[str] = set()
        self.trusted = False
        self.counters: Counter = Counter()
        # Every GsIdmsToken, PET and searchPartyToken handed out, for tests that make sure
        # none of them shows up where it must not.
        self.issued_secrets: list[str] = []

    # --- control ------------------------------------------------------------------------

    def expire_sessions(self) -> None:
        """Every searchPartyToken issued so far is refused from now on (fetches get 401)."""
        with self._lock:
            self.revoked_tokens |= self.issued_tokens

    def forget_trust(self) -> None:
        """The next login needs the second factor again."""
        with self._lock:
            self.trusted = False

    def token_refused(self, token: str) -> bool:
        with self._lock:
            return token in self.revoked_tokens

    # --- arithmetic (server side) ---------------------------------------------------------

    def _make_verifier(self, password: str) -> int:
        c = self.config
        digest = hashlib.sha256(password.encode("utf-8")).digest()
        if c.protocol == "s2k_fo":
            digest = digest.hex().encode("ascii")
        kdf = PBKDF2HMAC(
            algorithm=hashes.SHA256(), length=32, salt=self.salt, iterations=c.iterations
        )
        key = kdf.derive(digest)
        x = _num(_sha(self.salt, _sha(b":" + key)))
        return pow(_G, x, _N)

    @staticmethod
    def _k() -> int:
        return _num(_sha(_raw(_N), _raw(_G, _LEN)))

    def _spd(self, session_key: bytes, values: dict) -> bytes:
        key = hmac.new(session_key, b"extra data key:", hashlib.sha256).digest()
        iv = hmac.new(session_key, b"extra data iv:", hashlib.sha256).digest()[:16]
        padder = sym_padding.PKCS7(128).padder()
        data = padder.update(plistlib.dumps(values)) + padder.finalize()
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        return encryptor.update(data) + encryptor.finalize()

    # --- GSA ------------------------------------------------------------------------------

    def _gsa(self, request: dict) -> dict:
        cpd = request.get("cpd") or {}
        if not cpd.get("X-Apple-I-MD") or not cpd.get("X-Apple-I-MD-M"):
            return {"Status": {"ec": -20751, "em": "Missing anisette data."}}
        operation = request.get("o")
        if operation == "init":
            return self._init(request)
        if operation == "complete":
            return self._complete(request)
        return {"Status": {"ec": -20101, "em": f"Unknown operation {operation!r}."}}

    def _init(self, request: dict) -> dict:
        c = self.config
        self.counters["gsa_init"] += 1
        if request.get("u") != c.username:
            self.counters["unknown_user"] += 1
            return {"Status": {"ec": -20209, "em": "This Apple ID does not exist."}}
        if c.protocol not in (request.get("ps") or []):
            return {"Status": {"ec": -20101, "em": "No supported password protocol."}}
        a_public = _num(bytes(request.get("A2k") or b""))
        if a_public % _N == 0:
            return {"Status": {"ec": -20101, "em": "Bad A."}}
        b = secrets.randbits(256)
        b_public = (self._k() * self.verifier + pow(_G, b, _N)) % _N
        cookie = secrets.token_hex(16)
        with self._lock:
            self._handshakes[cookie] = {"A": a_public, "b": b, "B": b_public}
        return {
            "Status": {"ec": 0},
            "sp": c.protocol,
            "i": c.iterations,
            "s": self.salt,
            "c": cookie,
            "B": _raw(b_public),
        }

    def _complete(self, request: dict) -> dict:
        c = self.config
        self.counters["gsa_complete"] += 1
        with self._lock:
            handshake = self._handshakes.pop(str(request.get("c")), None)
        if handshake is None or request.get("u") != c.username:
            return {"Status": {"ec": -20101, "em": "Unknown login attempt."}}
        a_public, b, b_public = handshake["A"], handshake["b"], handshake["B"]
        u = _num(_sha(_raw(a_public, _LEN), _raw(b_public, _LEN)))
        premaster = pow(a_public * pow(self.verifier, u, _N) % _N, b, _N)
        session_key = _sha(_raw(premaster))
        h_n, h_g = _sha(_raw(_N)), _sha(_raw(_G, _LEN))
        expected_m1 = _sha(
            bytes(p ^ q for p, q in zip(h_n, h_g, strict=True)),
            _sha(c.username.encode()),
            self.salt,
            _raw(a_public),
            _raw(b_public),
            session_key,
        )
        if not hmac.compare_digest(expected_m1, bytes(request.get("M1") or b"")):
            self.counters["wrong_password"] += 1
            return {"Status": {"ec": -22406, "em": "Your Apple ID or password was incorrect."}}
        idms_token = secrets.token_urlsafe(24)
        self.issued_secrets.append(idms_token)
        values = {
            "adsid": self.adsid,
            "GsIdmsToken": idms_token,
            "acname": c.username,
            "fn": "Demo",
            "ln": "Account",
        }
        status: dict = {"ec": 0}
        with self._lock:
            needs_code = c.second_factor != "none" and not self.trusted
            if not needs_code and c.always_second_factor:
                self.trusted = False  # this login used up the accepted code
            if needs_code:
                status["au"] = (
                    "trustedDeviceSecondaryAuth"
                    if c.second_factor == "trusted_device"
                    else "secondaryAuth"
                )
                identity = base64.b64encode(f"{self.adsid}:{idms_token}".encode()).decode()
                self._identities[identity] = {"method": None, "phone_id": None}
            else:
                pet = secrets.token_urlsafe(32)
                self._pets.add(pet)
                self.issued_secrets.append(pet)
                values["t"] = {"com.apple.gs.idms.pet": {"token": pet, "duration": 300}}
        self.counters["gsa_ok"] += 1
        return {
            "Status": status,
            "M2": _sha(_raw(a_public), expected_m1, session_key),
            "spd": self._spd(session_key, values),
        }

    # --- second factor --------------------------------------------------------------------

    def _identity(self, headers) -> dict | None:
        if not headers.get("X-Apple-I-MD"):
            return None
        with self._lock:
            return self._identities.get(headers.get("X-Apple-Identity-Token", ""))

    def _phones_page(self) -> bytes:
        boot = {
            "direct": {
                "phoneNumberVerification": {
                    "trustedPhoneNumbers": [
                        {"id": pid, "numberWithDialCode": number, "pushMode": "sms"}
                        for pid, number in self.config.phone_numbers
                    ]
                }
            }
        }
        return (
            "<!DOCTYPE html><html><head><title>Verify</title></head><body>"
            f'<script type="application/json" class="boot_args">{json.dumps(boot)}</script>'
            "</body></html>"
        ).encode()

    def _accept_code(self, identity: dict, method: str, code: str, phone_id=None) -> bool:
        ok = (
            identity["method"] == method
            and (method != "sms" or identity["phone_id"] == phone_id)
            and hmac.compare_digest(code.encode(), self.config.code.encode())
        )
        with self._lock:
            if ok:
                self.trusted = True
                self.counters["code_accepted"] += 1
            else:
                self.counters["wrong_code"] += 1
        return ok

    # --- iCloud ---------------------------------------------------------------------------

    def _delegates(self, headers, raw: bytes) -> tuple[int, bytes]:
        c = self.config
        self.counters["delegates"] += 1
        auth = headers.get("Authorization", "")
        try:
            user, pet = base64.b64decode(auth.removeprefix("Basic ")).decode().split(":", 1)
            body = plistlib.loads(raw)
        except Exception:  # noqa: BLE001 - anything unreadable is refused like Apple does
            return 401, b""
        with self._lock:
            pet_ok = pet in self._pets
        if (
            user != c.username
            or not pet_ok
            or body.get("apple-id") != c.username
            or body.get("password") != pet
            or headers.get("X-Apple-ADSID") != self.adsid
            or not headers.get("X-Apple-I-MD")
            or "com.apple.mobileme" not in (body.get("delegates") or {})
        ):
            return 401, b""
        if c.account_limit_reached:
            answer = {
                "status": 0,
                "delegates": {
                    "com.apple.mobileme": {"status": 1, "status-message": "Account limit reached."}
                },
            }
            return 200, plistlib.dumps(answer)
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._pets.discard(pet)
            self.issued_tokens.add(token)
            self.issued_secrets.append(token)
        return 200, plistlib.dumps(
            {
                "status": 0,
                "dsid": c.dsid,
                "delegates": {
                    "com.apple.mobileme": {
                        "status": 0,
                        "service-data": {"tokens": {"searchPartyToken": token}},
                    }
                },
            }
        )

    # --- HTTP -----------------------------------------------------------------------------

    def handle(self, handler, method: str) -> bool:
        """Answer the request if it is a login request; False leaves it to the fetch side."""
        path = handler.path.split("?", 1)[0].rstrip("/")
        routes = {
            ("POST", GSA_PATH),
            ("GET", VALIDATE_PATH),
            ("GET", TRUSTED_DEVICE_PATH),
            ("GET", AUTH_PAGE_PATH),
            ("PUT", SMS_REQUEST_PATH),
            ("POST", SMS_SUBMIT_PATH),
            ("POST", DELEGATES_PATH),
        }
        if (method, path) not in routes:
            return False
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        status, body, content_type = self._route(method, path, handler.headers, raw)
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        return True

    def _route(self, method: str, path: str, headers, raw: bytes) -> tuple[int, bytes, str]:
        plist = "text/x-xml-plist"
        if path == GSA_PATH:
            try:
                request = plistlib.loads(raw)["Request"]
            except Exception:  # noqa: BLE001
                return 400, b"", plist
            return 200, plistlib.dumps({"Response": self._gsa(request)}), plist
        if path == DELEGATES_PATH:
            status, body = self._delegates(headers, raw)
            return status, body, plist
        identity = self._identity(headers)
        if identity is None:
            return 401, b"", "text/plain"
        if path == AUTH_PAGE_PATH:
            return 200, self._phones_page(), "text/html; charset=utf-8"
        if path == TRUSTED_DEVICE_PATH:
            if self.config.second_factor != "trusted_device":
                return 412, b"", plist
            identity["method"] = "trusted_device"
            self.counters["codes_sent"] += 1
            return 200, plistlib.dumps({"ec": 0}), plist
        if path == VALIDATE_PATH:
            code = headers.get("security-code", "")
            if self._accept_code(identity, "trusted_device", code):
                return 200, plistlib.dumps({"ec": 0, "em": ""}), plist
            refused = {"ec": -21669, "em": "Incorrect verification code."}
            return 400, plistlib.dumps(refused), plist
        try:
            request = json.loads(raw or b"{}")
            phone_id = int(request["phoneNumber"]["id"])
        except (ValueError, KeyError, TypeError):
            return 400, b'{"error": "bad request"}', "application/json"
        if path == SMS_REQUEST_PATH:
            if phone_id not in {pid for pid, _ in self.config.phone_numbers}:
                return 400, b'{"error": "unknown phone number"}', "application/json"
            identity["method"], identity["phone_id"] = "sms", phone_id
            self.counters["codes_sent"] += 1
            return (
                200,
                json.dumps({"trustedPhoneNumber": {"id": phone_id}}).encode(),
                ("application/json"),
            )
        code = str((request.get("securityCode") or {}).get("code") or "")
        if self._accept_code(identity, "sms", code, phone_id):
            return 200, b'{"securityCode": {"valid": true}}', "application/json"
        refused = {
            "service_errors": [{"code": "-21669", "message": "Incorrect verification code."}]
        }
        return 400, json.dumps(refused).encode(), "application/json"
