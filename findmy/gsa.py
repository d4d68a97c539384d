"""Apple's login protocol, client side: GSA SRP-6a, the two second factors, iCloud delegates.

Nothing here touches the database; `findmy.login` keeps the state between the steps. Every
error is a `LoginError` whose message is safe to show staff: it never holds the password, a
token, the PET or a code. `transient` says whether trying again later can help.

    authenticate(username, password)      -> GsaTokens (adsid, GsIdmsToken, PET, second factor)
    trusted_phones / request_code / submit_code      the second factor
    login_delegates(username, tokens)     -> (dsid, searchPartyToken)
"""

from __future__ import annotations

import base64
import json
import logging
import plistlib
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser

import httpx
from django.conf import settings

from . import anisette
from .errors import AnisetteUnavailable
from .srp import PROTOCOLS, SrpClient, SrpError, decrypt_spd, password_key

logger = logging.getLogger(__name__)

# What macOS's akd says it is; Apple's edge refuses GSA requests whose client info names Xcode.
CLIENT_INFO = "<MacBookPro18,3> <Mac OS X;13.4.1;22F8> <com.apple.AuthKit/1 (com.apple.akd/1.0)>"
DELEGATES_CLIENT_INFO = (
    "<MacBookPro18,3> <Mac OS X;13.4.1;22F8> <com.apple.AOSKit/282 (com.apple.accountsd/113)>"
)
GSA_USER_AGENT = "akd/1.0 CFNetwork/978.0.7 Darwin/18.7.0"
DELEGATES_USER_AGENT = "com.apple.iCloudHelper/282 CFNetwork/1408.0.4 Darwin/22.5.0"
CPD_FLAGS = {"bootstrap": True, "icscrec": True, "pbe": False, "prkgen": True, "svct": "iCloud"}

TRUSTED_DEVICE = "trusted_device"
SMS = "sms"
SECOND_FACTORS = (TRUSTED_DEVICE, SMS)
_AU = {"trustedDeviceSecondaryAuth": TRUSTED_DEVICE, "secondaryAuth": SMS}


class LoginError(Exception):
    """A login step failed. The message is for staff and never contains a secret."""

    kind = "login"
    transient = False


class UnknownUser(LoginError):
    kind = "unknown_user"


class WrongPassword(LoginError):
    kind = "wrong_password"


class WrongCode(LoginError):
    kind = "wrong_code"


class SecondFactorRequired(LoginError):
    """Apple wants a code, and nobody is there to type it (a re-login during a fetch)."""

    kind = "second_factor_required"


class AccountLimitReached(LoginError):
    kind = "account_limit"


class LoginUnavailable(LoginError):
    """Network trouble, Apple's 5xx, the anisette server down: try again later."""

    kind = "unavailable"
    transient = True


class LoginProtocolError(LoginError):
    """An answer this client does not understand, or a server proof that does not match."""

    kind = "protocol"


@dataclass(frozen=True)
class GsaTokens:
    """What a GSA login gives. `pet` is empty while a second factor is pending."""

    adsid: str
    idms_token: str
    pet: str = ""
    second_factor: str = ""  # "", TRUSTED_DEVICE or SMS

    def __repr__(self) -> str:  # no token in logs or tracebacks
        return f"GsaTokens(second_factor={self.second_factor!r})"

    @property
    def identity_token(self) -> str:
        return base64.b64encode(f"{self.adsid}:{self.idms_token}".encode()).decode()


@dataclass(frozen=True)
class TrustedPhone:
    id: int
    number: str  # as Apple shows it (numberWithDialCode)


def mask_phone_number(number: str) -> str:
    """+49 151 23456789 -> +49 ••• ••••••89: the dial code and the last two digits stay."""
    digits_seen = 0
    total = sum(ch.isdigit() for ch in number)
    keep_head = 0
    if number.startswith("+"):
        head = number[1:].split(" ", 1)[0]
        keep_head = sum(ch.isdigit() for ch in head) if " " in number else 0
    out = []
    for ch in number:
        if ch.isdigit():
            digits_seen += 1
            out.append(ch if digits_seen <= keep_head or digits_seen > total - 2 else "•")
        else:
            out.append(ch)
    return "".join(out)


class _BootArgs(HTMLParser):
    """The JSON inside <script class="boot_args"> of Apple's /auth page."""

    def __init__(self):
        super().__init__()
        self._inside = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "script" and "boot_args" in classes:
            self._inside = True

    def handle_endtag(self, tag):
        if tag == "script":
            self._inside = False

    def handle_data(self, data):
        if self._inside:
            self.text.append(data)


def parse_trusted_phones(html: str) -> list[TrustedPhone]:
    parser = _BootArgs()
    parser.feed(html)
    if not parser.text:
        raise LoginProtocolError("Apple's second-factor page holds no phone numbers (boot_args)")
    try:
        boot = json.loads("".join(parser.text))
        numbers = boot["direct"]["phoneNumberVerification"]["trustedPhoneNumbers"]
        return [TrustedPhone(id=int(n["id"]), number=str(n["numberWithDialCode"])) for n in numbers]
    except (ValueError, KeyError, TypeError) as exc:
        raise LoginProtocolError("Apple's list of trusted phone numbers is unreadable") from exc


def _plist(raw: bytes) -> dict:
    raw = raw.strip()
    if raw and not raw.startswith((b"<?xml", b"bplist")):
        raw = b'<?xml version="1.0" encoding="UTF-8"?>\n' + raw
    try:
        value = plistlib.loads(raw)
    except Exception as exc:  # plistlib raises several kinds for bad input
        raise LoginProtocolError("the answer is not a property list") from exc
    if not isinstance(value, dict):
        raise LoginProtocolError("the answer is not a property-list dictionary")
    return value


class GsaClient:
    """One login conversation with Apple (or the simulator), over one HTTP connection pool."""

    def __init__(
        self,
        *,
        anisette_url: str = "",
        client_id: str = "",
        gsa_url: str | None = None,
        setup_url: str | None = None,
        timeout: float | None = None,
    ):
        self.anisette_url = anisette_url or settings.ANISETTE_URL
        self.client_id = client_id or str(uuid.uuid4()).upper()
        self.gsa_url = (gsa_url or settings.APPLE_GSA_URL).rstrip("/")
        self.setup_url = (setup_url or settings.APPLE_SETUP_URL).rstrip("/")
        self.timeout = timeout if timeout is not None else settings.FINDMY_HTTP_TIMEOUT_SECONDS
        self._http = httpx.Client(timeout=self.timeout)

    def __enter__(self) -> GsaClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- plumbing -----------------------------------------------------------------------

    def _anisette(self) -> dict[str, str]:
        try:
            return anisette.get_headers(self.anisette_url, timeout=self.timeout)
        except AnisetteUnavailable as exc:
            raise LoginUnavailable(f"the anisette server does not answer: {exc}") from exc

    def _send(self, method: str, url: str, **kwargs) -> httpx.Response:
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise LoginUnavailable(f"{method} {url} failed: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise LoginUnavailable(f"{method} {url} answered HTTP {response.status_code}")
        return response

    def _gsa(self, request: dict) -> dict:
        body = {
            "Header": {"Version": "1.0.1"},
            "Request": {"cpd": {**CPD_FLAGS, **self._anisette()}, **request},
        }
        response = self._send(
            "POST",
            f"{self.gsa_url}/grandslam/GsService2",
            content=plistlib.dumps(body),
            headers={
                "Content-Type": "text/x-xml-plist",
                "Accept": "*/*",
                "User-Agent": GSA_USER_AGENT,
                "X-MMe-Client-Info": CLIENT_INFO,
            },
        )
        if response.status_code != 200:
            raise LoginProtocolError(f"Apple's login service answered HTTP {response.status_code}")
        answer = _plist(response.content).get("Response")
        if not isinstance(answer, dict):
            raise LoginProtocolError("Apple's login answer has no Response")
        return answer

    def _second_factor_headers(self, tokens: GsaTokens) -> dict[str, str]:
        return {
            **self._anisette(),
            "X-Apple-Identity-Token": tokens.identity_token,
            "X-Mme-Client-Info": CLIENT_INFO,
            "X-Apple-App-Info": "com.apple.gs.xcode.auth",
            "X-Xcode-Version": "11.2 (11B41)",
            "User-Agent": "Xcode",
            "Accept-Language": "en-us",
        }

    # --- GSA SRP-6a ---------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> GsaTokens:
        """The SRP-6a exchange. Raises UnknownUser, WrongPassword, LoginUnavailable..."""
        srp = SrpClient(username)
        init = self._gsa({"A2k": srp.public_key, "u": username, "ps": list(PROTOCOLS), "o": "init"})
        status = init.get("Status") or {}
        if status.get("ec", 0) != 0:
            raise UnknownUser(
                f"Apple does not know the Apple ID {username!r} or refuses it "
                f"({status.get('em') or 'error ' + str(status.get('ec'))})."
            )
        protocol = init.get("sp")
        if protocol not in PROTOCOLS:
            raise LoginProtocolError(f"Apple asks for password protocol {protocol!r}")
        try:
            salt, server_public = bytes(init["s"]), bytes(init["B"])
            iterations, cookie = int(init["i"]), init["c"]
        except (KeyError, TypeError, ValueError) as exc:
            raise LoginProtocolError("Apple's SRP challenge is incomplete") from exc
        key = password_key(password, salt=salt, iterations=iterations, protocol=protocol)
        try:
            m1 = srp.process_challenge(salt=salt, server_public=server_public, password_key=key)
        except SrpError as exc:
            raise LoginProtocolError(f"Apple's SRP challenge is unsafe: {exc}") from exc
        done = self._gsa({"c": cookie, "M1": m1, "u": username, "o": "complete"})
        status = done.get("Status") or {}
        if status.get("ec", 0) != 0:
            raise WrongPassword(
                f"Apple refused the password for {username!r} "
                f"({status.get('em') or 'error ' + str(status.get('ec'))})."
            )
        if not srp.verify_server(done.get("M2") or b""):
            raise LoginProtocolError("the login server's SRP proof (M2) does not match")
        try:
            spd = _plist(decrypt_spd(srp.session_key, bytes(done["spd"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise LoginProtocolError("Apple's account data (spd) cannot be decrypted") from exc
        au = status.get("au")
        if au is not None and au not in _AU:
            raise LoginProtocolError(f"Apple asks for an unknown kind of login ({au!r})")
        try:
            adsid, idms_token = str(spd["adsid"]), str(spd["GsIdmsToken"])
        except KeyError as exc:
            raise LoginProtocolError("Apple's account data has no adsid or GsIdmsToken") from exc
        pet = ""
        if au is None:
            pet = str(((spd.get("t") or {}).get("com.apple.gs.idms.pet") or {}).get("token") or "")
            if not pet:
                raise LoginProtocolError("Apple's account data has no login token (PET)")
        logger.info("GSA login for an Apple ID: %s", _AU.get(au, "no second factor needed"))
        return GsaTokens(adsid=adsid, idms_token=idms_token, pet=pet, second_factor=_AU.get(au, ""))

    # --- second factor ------------------------------------------------------------------

    def trusted_phones(self, tokens: GsaTokens) -> list[TrustedPhone]:
        response = self._send(
            "GET", f"{self.gsa_url}/auth", headers=self._second_factor_headers(tokens)
        )
        if response.status_code != 200:
            raise LoginProtocolError(f"Apple's second-factor page answered {response.status_code}")
        return parse_trusted_phones(response.text)

    def request_code(self, tokens: GsaTokens, *, method: str, phone_id: int | None = None):
        """Make Apple show a code on the trusted devices, or send it by SMS."""
        headers = self._second_factor_headers(tokens)
        if method == TRUSTED_DEVICE:
            headers.update({"Content-Type": "text/x-xml-plist", "Accept": "text/x-xml-plist"})
            response = self._send(
                "GET", f"{self.gsa_url}/auth/verify/trusteddevice", headers=headers
            )
        elif method == SMS:
            if phone_id is None:
                raise LoginError("Choose the phone number the code is sent to.")
            response = self._send(
                "PUT",
                f"{self.gsa_url}/auth/verify/phone",
                json={"phoneNumber": {"id": phone_id}, "mode": "sms"},
                headers=headers,
            )
        else:
            raise LoginError(f"Unknown second factor {method!r}; one of {SECOND_FACTORS}.")
        if response.status_code >= 400:
            raise LoginProtocolError(
                f"Apple did not send a code ({method}, HTTP {response.status_code})"
            )

    def submit_code(
        self, tokens: GsaTokens, *, method: str, code: str, phone_id: int | None = None
    ) -> None:
        headers = self._second_factor_headers(tokens)
        if method == TRUSTED_DEVICE:
            headers.update(
                {
                    "security-code": code,
                    "Content-Type": "text/x-xml-plist",
                    "Accept": "text/x-xml-plist",
                }
            )
            response = self._send(
                "GET", f"{self.gsa_url}/grandslam/GsService2/validate", headers=headers
            )
        elif method == SMS:
            response = self._send(
                "POST",
                f"{self.gsa_url}/auth/verify/phone/securitycode",
                json={"phoneNumber": {"id": phone_id}, "securityCode": {"code": code}, "mode": SMS},
                headers=headers,
            )
        else:
            raise LoginError(f"Unknown second factor {method!r}; one of {SECOND_FACTORS}.")
        wrong = response.status_code in (400, 401, 403)
        if not wrong and response.status_code == 200 and method == TRUSTED_DEVICE:
            # Apple may answer 200 with a plist whose error code says the code was wrong.
            try:
                wrong = _plist(response.content).get("ec", 0) != 0
            except LoginProtocolError:
                wrong = False
        if wrong:
            raise WrongCode("Apple refused the code: it is wrong or no longer valid.")
        if response.status_code >= 300:
            raise LoginProtocolError(f"Apple's code check answered HTTP {response.status_code}")

    # --- iCloud -------------------------------------------------------------------------

    def login_delegates(self, username: str, tokens: GsaTokens) -> tuple[str, str]:
        """Trade the PET for the account's dsid and searchPartyToken."""
        if not tokens.pet:
            raise LoginProtocolError("no login token (PET): the second factor is still pending")
        body = plistlib.dumps(
            {
                "apple-id": username,
                "delegates": {"com.apple.mobileme": {}},
                "password": tokens.pet,
                "client-id": self.client_id,
            }
        )
        response = self._send(
            "POST",
            f"{self.setup_url}/setup/iosbuddy/loginDelegates",
            content=body,
            auth=(username, tokens.pet),
            headers={
                **self._anisette(),
                "X-Apple-ADSID": tokens.adsid,
                "User-Agent": DELEGATES_USER_AGENT,
                "X-Mme-Client-Info": DELEGATES_CLIENT_INFO,
                "Content-Type": "text/x-xml-plist",
            },
        )
        if response.status_code in (401, 403):
            raise LoginProtocolError(
                f"iCloud refused the login token (HTTP {response.status_code})"
            )
        if response.status_code != 200:
            raise LoginProtocolError(f"iCloud's login answered HTTP {response.status_code}")
        answer = _plist(response.content)
        mobileme = (answer.get("delegates") or {}).get("com.apple.mobileme") or {}
        for part in (mobileme, answer):
            status = part.get("status", 0)
            if status != 0:
                message = str(part.get("status-message") or "")
                if "limit" in message.lower():
                    raise AccountLimitReached(
                        "iCloud refused the login: too many devices are already logged in "
                        "with this anisette server's identity (Apple says "
                        f"{message!r}). Use another anisette server, or give this one a new "
                        "identity, then log in again."
                    )
                raise LoginProtocolError(
                    f"iCloud refused the login (status {status}: {message or 'no message'})"
                )
        try:
            dsid = str(answer["dsid"])
            token = str(mobileme["service-data"]["tokens"]["searchPartyToken"])
        except (KeyError, TypeError) as exc:
            raise LoginProtocolError("iCloud's answer has no dsid or searchPartyToken") from exc
        return dsid, token
