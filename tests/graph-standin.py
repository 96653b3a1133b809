#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# graph-standin.py — an HTTPS stand-in for Microsoft Graph's cancelMediaProcessing action and
# for the identity platform's v2.0 client-credentials token endpoint, both on one loopback port.
# The tests and the demo point mediacanceld at it instead of graph.microsoft.com and
# login.microsoftonline.com. It owns: the token endpoint (client secret, certificate client
# assertion, or a federated assertion it issued itself), a managed identity endpoint in the IMDS
# and the Azure Arc forms (plain HTTP on a second loopback port, --mi-port-file), the Graph cancel and operation endpoints (current and legacy beta forms), the
# /_standin/ control API (stats, config, fault plan) and the per-request JSON log. Python 3
# standard library only; client assertions are verified with the openssl command (there is no
# RSA in the standard library). docs/standin.md describes every option, endpoint and control call.
#
# Behaviour follows Microsoft's Graph and identity platform documentation: status codes, body
# and error shapes, header names. Where the documentation leaves something open the stand-in picks
# one plausible answer and makes the alternatives reachable through the control API.

import argparse
import base64
import binascii
import email.utils
import hashlib
import hmac
import json
import os
import random
import re
import secrets
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

OPERATION_TYPE = "#microsoft.graph.cancelMediaProcessingOperation"
STATUSES = ("notStarted", "running", "completed", "failed")
CLIENT_CONTEXT_MAX = 256  # commsOperation.clientContext limit (reference 1.2)
MAX_BODY = 1 << 20
HANDSHAKE_TIMEOUT = 10.0
RETRY_AFTER_TOLERANCE = 0.05  # seconds of slack before a too-early request counts as a violation

# Real Graph labels success bodies with OData parameters; a client must not insist on the bare
# media type, so the stand-in sends the long form too.
GRAPH_JSON = ("application/json;odata.metadata=minimal;odata.streaming=true;"
              "IEEE754Compatible=false;charset=utf-8")
PLAIN_JSON = "application/json; charset=utf-8"

GRAPH_ERROR_CODES = {
    400: "BadRequest", 401: "InvalidAuthenticationToken", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 409: "Conflict", 413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType", 429: "TooManyRequests", 500: "InternalServerError",
    502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout",
}

# Paths. Graph matches URL segments case-insensitively, so these do too; ids stay as sent.
TOKEN_RE = re.compile(r"^/([^/]+)/oauth2/v2\.0/token$", re.I)
CANCEL_CURRENT_RE = re.compile(r"^/(v1\.0|beta)/communications/calls/([^/]+)/cancelMediaProcessing$", re.I)
CANCEL_APP_RE = re.compile(r"^/(beta)/app/calls/([^/]+)/cancelMediaProcessing$", re.I)
CANCEL_APPS_RE = re.compile(r"^/(beta)/applications/([^/]+)/calls/([^/]+)/cancelMediaProcessing$", re.I)
OP_CURRENT_RE = re.compile(r"^/(v1\.0|beta)/communications/calls/([^/]+)/operations/([^/]+)$", re.I)
OP_APP_RE = re.compile(r"^/(beta)/app/calls/([^/]+)/operations/([^/]+)$", re.I)
OP_APPS_RE = re.compile(r"^/(beta)/applications/([^/]+)/calls/([^/]+)/operations/([^/]+)$", re.I)
CONTROL_PREFIX = "/_standin/"
# Where Graph's notification signing keys are published (graph-api.md 3.3): the OpenID
# document, and the JWKS it names (the stand-in's own, at KEYS_PATH).
OPENID_PATH = "/v1/.well-known/OpenIdConfiguration"
KEYS_PATH = "/v1/keys"
NOTIFICATION_ISSUER = "https://api.botframework.com"
NOTIFICATION_TOKEN_LIFETIME = 3600
TOKEN_VARIANTS = ("good", "expired", "notYetValid", "wrongAudience", "wrongIssuer", "otherTenant", "unknownKid",
                  "algNone", "hs256PublicKey", "changedPayload", "truncatedSignature")

# The clouds (docs/configuration.md, src/daemon/cloud.c): the Graph root whose "/.default" is the
# one scope the token endpoint accepts, unless scopeResource says otherwise.
CLOUD_GRAPH_ROOTS = {
    "Global": "https://graph.microsoft.com",
    "USGovernment": "https://graph.microsoft.us",
    "USGovernmentDoD": "https://dod-graph.microsoft.us",
    "China": "https://microsoftgraph.chinacloudapi.cn",
}

# Certificate credentials (reference 5.1, 5.2).
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_CLOCK_SKEW = 300      # seconds an nbf may lie in the future (clocks differ)
ASSERTION_MAX_LIFETIME = 3600   # exp - nbf; stricter than Entra (no cap, reference 5.2), see docs
B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")

# Federated credentials (reference 2). The stand-in is the "external identity provider" too: it
# signs the tokens it hands out (the assertion-file control call, the managed identity
# endpoint) with a key of its own (HS256, kid below), and the token endpoint accepts as a
# federated client_assertion only a token it signed for the exchange audience.
FEDERATED_KID = "standin-federated"
FEDERATED_AUDIENCE = "api://AzureADTokenExchange"
MI_PATH = "/metadata/identity/oauth2/token"          # IMDS form
ARC_PATH = "/arc/metadata/identity/oauth2/token"     # Azure Arc form (challenge first)
ARC_KEY_MAX = 4096
ARC_KEY_MODES = ("good", "max", "oversized", "symlink", "outside", "traversal")


class HttpError(Exception):
    """A request that cannot be answered normally; the kind decides the body shape."""

    def __init__(self, status, message, code=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


class AadError(Exception):
    """An identity-platform error: OAuth error name, AADSTS number, human text."""

    def __init__(self, status, error, aadsts, text):
        super().__init__(text)
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.text = text


# ------------------------------------------------------------------------------------------
# Small helpers


def graph_date(t):
    """Graph's innerError date: ISO 8601, UTC, whole seconds, no zone suffix."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))


def aad_timestamp(t):
    """The identity platform's timestamp style: '2024-05-01 12:34:56Z'."""
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t))


def new_token(tenant):
    # Shaped like a JWT (so log scrubbers keyed on "eyJ" see it) whose claims carry the tenant
    # as tid, like the identity platform's; unsigned, since only this server reads it.
    claims = b64url_encode(json.dumps({"tid": tenant.lower(), "jti": secrets.token_urlsafe(16)}).encode())
    return "eyJ0eXAiOiJKV1QifQ." + claims + "." + secrets.token_urlsafe(64)


def parse_status_name(s):
    """Accepts an operationStatus in any letter case (CSDL and docs disagree) and keeps it as given."""
    if not isinstance(s, str) or s.lower() not in (x.lower() for x in STATUSES):
        raise ValueError("status must be one of %s (any case)" % ", ".join(STATUSES))
    return s


def retry_after_seconds(value, now):
    """Seconds a Retry-After value asks for: a decimal number, or an HTTP date; None if neither."""
    try:
        secs = float(value)
    except ValueError:
        try:
            secs = email.utils.parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError):
            return None
    return secs if secs > 0 else None


def result_info(status, message=None):
    """resultInfo only for finished operations; a pending one has none yet. message, when
    given, replaces the usual text (a test of what the daemon makes of Graph's free text)."""
    s = status.lower()
    if s == "completed":
        return {"code": 200, "subcode": 0, "message": message or "Action completed, operation cancelled."}
    if s == "failed":
        return {"code": 500, "subcode": 0, "message": message or "Action failed."}
    return None


# ------------------------------------------------------------------------------------------
# Certificate credentials: the registered certificate and client-assertion checks. The
# standard library has SHA-256 but no RSA, so signatures are checked by the openssl command.


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    """Strict JWS base64url: the URL-safe alphabet, no padding, no whitespace."""
    if not B64URL_RE.match(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def openssl(args, data=None, pass_fds=()):
    """Runs the openssl command; its stdout as bytes, or OSError with its message."""
    try:
        done = subprocess.run(["openssl"] + args, input=data, capture_output=True, timeout=30, check=False,
                              pass_fds=pass_fds)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise OSError("openssl %s: %s" % (args[0], e)) from None
    if done.returncode != 0:
        raise OSError("openssl %s: %s" % (args[0], done.stderr.decode("utf-8", "replace").strip()))
    return done.stdout


def pipe_with(data):
    """The read end of a pipe already holding data (small: it must fit the pipe buffer), so
    openssl can read it as /dev/fd/N and no file is left behind if the stand-in is killed."""
    r, w = os.pipe()
    try:
        os.write(w, data)
    finally:
        os.close(w)
    return r


class RegisteredCertificate:
    """The certificate uploaded to the app registration (--client-certificate): its x5t#S256,
    validity and public key, worked out once at start-up."""

    def __init__(self, path):
        der = openssl(["x509", "-in", path, "-outform", "DER"])
        # x5t#S256 is the SHA-256 of the DER certificate, base64url without padding (reference 5.2).
        self.thumbprint = b64url_encode(hashlib.sha256(der).digest())
        dates = openssl(["x509", "-in", path, "-noout", "-startdate", "-enddate"]).decode("ascii")
        fields = dict(line.split("=", 1) for line in dates.splitlines() if "=" in line)
        self.not_before = ssl.cert_time_to_seconds(fields["notBefore"])
        self.not_after = ssl.cert_time_to_seconds(fields["notAfter"])
        self.pubkey = openssl(["x509", "-in", path, "-noout", "-pubkey"])

    def verify_ps256(self, signing_input, signature):
        """RSASSA-PSS, SHA-256, MGF1-SHA-256, salt length 32, as RFC 7518 3.5 defines PS256."""
        if len(signature) > 4096:  # RSA-16384 at most; keeps the pipe write from blocking
            return False
        # Each call gets its own pipes: handler threads verify concurrently.
        fds = [pipe_with(self.pubkey), pipe_with(signature)]
        try:
            openssl(["dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32",
                     "-sigopt", "rsa_mgf1_md:sha256", "-verify", "/dev/fd/%d" % fds[0],
                     "-signature", "/dev/fd/%d" % fds[1]],
                    data=signing_input, pass_fds=fds)
            return True
        except OSError:
            return False
        finally:
            for fd in fds:
                os.close(fd)


class NotificationSigner:
    """Graph's side of signed notifications: RSA-2048 keys made with the openssl command (at
    start-up, and one more per rotation), the JWKS that publishes them, and RS256 tokens of the
    shape Graph sends with each notification (iss, aud = the app's client id, tid, iat, nbf,
    exp), good or deliberately bad. Private keys stay in memory and reach openssl through pipes."""

    def __init__(self, client_id, tenant):
        self.lock = threading.Lock()
        self.client_id = client_id
        self.tenant = tenant
        self.keys = [self.new_key()]  # the newest signs
        self.published = list(self.keys)

    @staticmethod
    def new_key():
        pem = openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        modulus = openssl(["rsa", "-noout", "-modulus"], data=pem).decode("ascii").strip().split("=", 1)[1]
        public_pem = openssl(["rsa", "-pubout"], data=pem)
        return {"kid": secrets.token_hex(8), "pem": pem, "public": public_pem,
                "n": b64url_encode(bytes.fromhex(modulus)), "e": "AQAB"}

    def rotate(self, keep_old):
        key = self.new_key()
        with self.lock:
            self.keys.append(key)
            self.published = self.published + [key] if keep_old else [key]
            return key["kid"]

    def jwks(self):
        with self.lock:
            return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k["kid"], "n": k["n"], "e": k["e"]}
                             for k in self.published]}

    def current(self):
        with self.lock:
            return self.keys[-1]

    @staticmethod
    def rs256(key, signing_input):
        fd = pipe_with(key["pem"])
        try:
            return openssl(["dgst", "-sha256", "-sign", "/dev/fd/%d" % fd], data=signing_input, pass_fds=[fd])
        finally:
            os.close(fd)

    def token(self, variant="good", tenant=None, now=None):
        """'Bearer <JWT>' for one of TOKEN_VARIANTS."""
        if variant not in TOKEN_VARIANTS:
            raise ValueError("variant must be one of %s" % ", ".join(TOKEN_VARIANTS))
        now = int(time.time() if now is None else now)
        key = self.current()
        header = {"alg": "RS256", "typ": "JWT", "kid": key["kid"], "x5t": key["kid"]}
        claims = {"iss": NOTIFICATION_ISSUER, "aud": self.client_id, "iat": now, "nbf": now,
                  "exp": now + NOTIFICATION_TOKEN_LIFETIME, "tid": tenant or self.tenant,
                  "appid": self.client_id, "ver": "1.0"}
        if variant == "expired":
            claims.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
        elif variant == "notYetValid":
            claims.update(iat=now + 3600, nbf=now + 3600, exp=now + 7200)
        elif variant == "wrongAudience":
            claims["aud"] = "00000000-0000-0000-0000-000000000000"
        elif variant == "wrongIssuer":
            claims["iss"] = "https://sts.windows.net/%s/" % claims["tid"]
        elif variant == "otherTenant":
            claims["tid"] = "fabrikam-tenant"
        elif variant == "unknownKid":
            header["kid"] = header["x5t"] = "not-" + key["kid"]
        elif variant == "algNone":
            header = {"alg": "none", "typ": "JWT", "kid": key["kid"]}
        elif variant == "hs256PublicKey":
            header = {"alg": "HS256", "typ": "JWT", "kid": key["kid"]}

        def part(v):
            return b64url_encode(json.dumps(v, separators=(",", ":")).encode("utf-8"))

        signing_input = (part(header) + "." + part(claims)).encode("ascii")
        if variant == "algNone":
            signature = b""
        elif variant == "hs256PublicKey":
            signature = hmac.new(key["public"], signing_input, hashlib.sha256).digest()
        else:
            signature = self.rs256(key, signing_input)
        token = signing_input.decode("ascii") + "." + b64url_encode(signature)
        if variant == "changedPayload":
            # The claims of another tenant under the good token's signature.
            forged = dict(claims, tid="fabrikam-tenant")
            token = part(header) + "." + part(forged) + "." + token.rsplit(".", 1)[1]
        elif variant == "truncatedSignature":
            token = token[:-8]
        return "Bearer " + token


# ------------------------------------------------------------------------------------------
# Runtime configuration: the control API may change each key; each has a checker.


def _int_range(lo, hi):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError("must be an integer in %d..%d" % (lo, hi))
        return v
    return check


def _number_range(lo, hi):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
            raise ValueError("must be a number in %g..%g" % (lo, hi))
        return v
    return check


def _optional(check):
    return lambda v: None if v is None else check(v)


def _bool(v):
    if not isinstance(v, bool):
        raise ValueError("must be true or false")
    return v


def _one_of(*allowed):
    def check(v):
        if v not in allowed:
            raise ValueError("must be one of %s" % ", ".join(str(a) for a in allowed))
        return v
    return check


def _status_list(v):
    if not isinstance(v, list):
        raise ValueError("must be a list of operation statuses")
    return [parse_status_name(s) for s in v]


def _string_list(v):
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise ValueError("must be a list of strings")
    return list(v)


def _tenant_list(v):
    return [t.lower() for t in _string_list(v)]


def _tenant_map(v):
    if not isinstance(v, dict) or not all(isinstance(k, str) and isinstance(t, str) for k, t in v.items()):
        raise ValueError("must be an object of call id -> tenant strings")
    return {k.lower(): t.lower() for k, t in v.items()}


def _nonempty_string(v):
    if not isinstance(v, str) or not v:
        raise ValueError("must be a non-empty string")
    return v


CONFIG_CHECKS = {
    "tokenLifetime": _int_range(0, 10 * 365 * 86400),
    "refreshIn": _optional(_int_range(0, 10 * 365 * 86400)),
    "expiresInAsString": _bool,
    "latencyMs": _number_range(0, 600000),
    "tokenLatencyMs": _number_range(0, 600000),
    "cancelStatus": parse_status_name,
    "legacyAnswer": _one_of(202, 204),
    "currentAnswer": _one_of(200, 202, 204),
    "operationSteps": _status_list,
    "clientSecret": _nonempty_string,
    "endedCalls": _string_list,
    "locationIdDiffers": _bool,
    "clockOffsetSec": _number_range(-10 * 365 * 86400, 10 * 365 * 86400),
    "scopeResource": _optional(_nonempty_string),
    "resultMessage": _optional(_nonempty_string),
    "callTenants": _tenant_map,
    "loginDownTenants": _tenant_list,
    "miTokenLifetime": _int_range(-10 * 365 * 86400, 10 * 365 * 86400),
    "arcKeyMode": _one_of(*ARC_KEY_MODES),
    "miOnlyExpiresOn": _bool,
    "keysDown": _bool,
}

FAULT_KINDS = ("token", "cancel", "operation", "other", "mi", "any")
FAULT_ACTIONS = ("status", "reset", "stall")


def parse_fault_rule(raw):
    """Checks one fault rule from the control API and returns the stored form."""
    if not isinstance(raw, dict):
        raise ValueError("a rule must be a JSON object")
    known = {"kind", "action", "status", "retryAfter", "body", "stallMs", "count", "probability", "untilT"}
    extra = set(raw) - known
    if extra:
        raise ValueError("unknown rule field(s): %s" % ", ".join(sorted(extra)))

    def field(name, check, default=None):
        try:
            return check(raw.get(name, default))
        except ValueError as e:
            raise ValueError("%s %s" % (name, e)) from None

    rule = {
        "kind": field("kind", _one_of(*FAULT_KINDS), "any"),
        "action": field("action", _one_of(*FAULT_ACTIONS), "status"),
        "status": field("status", _int_range(100, 599), 503),
        "retryAfter": None,
        "stallMs": field("stallMs", _number_range(0, 600000), 0),
        "count": field("count", _optional(_int_range(0, 1 << 31))),
        "probability": field("probability", _optional(_number_range(0, 1))),
        "untilT": field("untilT", _optional(_number_range(0, 1e12))),
        "hits": 0,
    }
    if "body" in raw:
        rule["body"] = raw["body"]
    ra = raw.get("retryAfter")
    if ra is not None:
        if isinstance(ra, bool) or not isinstance(ra, (str, int, float)):
            raise ValueError("retryAfter must be a string (sent verbatim)")
        rule["retryAfter"] = ra if isinstance(ra, str) else str(ra)
        if "\r" in rule["retryAfter"] or "\n" in rule["retryAfter"]:
            raise ValueError("retryAfter must be a single line")
    rule["remaining"] = rule["count"]
    return rule


# ------------------------------------------------------------------------------------------
# Shared state. One lock guards everything below; handlers never sleep while holding it.


class State:
    def __init__(self, args, secret, client_certificate=None):
        self.lock = threading.Lock()
        self.federated_key = secrets.token_bytes(32)
        self.mi_client_id = args.mi_client_id
        self.arc_tokens_dir = args.arc_tokens_dir
        self.mi_scratch_dir = args.mi_scratch_dir
        self.arc_key = None      # what the last challenge wrote, expected back as Basic
        self.arc_key_files = []  # every path the stand-in made, for the tests to clean up
        self.client_certificate = client_certificate  # RegisteredCertificate or None
        self.tenants = [t.lower() for t in args.tenant]  # the first is the app's home tenant
        self.tenant = args.tenant[0]
        self.cloud = args.cloud
        self.client_id = args.client_id
        self.verbose = args.verbose
        self.config = {
            "tokenLifetime": args.token_lifetime,
            "refreshIn": args.refresh_in,
            "expiresInAsString": args.expires_in_as_string,
            "latencyMs": args.latency_ms,
            "tokenLatencyMs": args.token_latency_ms,
            "cancelStatus": args.cancel_status,
            "legacyAnswer": 202,
            "currentAnswer": 200,
            "operationSteps": [],
            "clientSecret": secret,
            "endedCalls": [],
            "locationIdDiffers": False,
            "clockOffsetSec": 0,
            "scopeResource": None,
            "resultMessage": None,
            "callTenants": {},       # call id (lower case) -> the tenant the call lives in
            "loginDownTenants": [],  # tenants whose token requests get 503 temporarily_unavailable
            "miTokenLifetime": 3599,
            "arcKeyMode": "good",
            "miOnlyExpiresOn": False,
            "keysDown": False,
        }
        self.signer = NotificationSigner(args.client_id, args.tenant[0])
        self.rules = []
        self.rng = random.Random(args.seed)
        self.tokens = {}      # access token -> expiry (unix time); survives reset
        self.token_tenants = {}  # access token -> the tenant it was issued for (its tid)
        self.operations = {}  # operation id (and Location alias) -> operation dict
        self.log_file = open(args.log, "a", buffering=1, encoding="utf-8") if args.log else None
        self.reset_stats()

    def reset(self):
        with self.lock:
            self.reset_stats()

    def reset_stats(self):
        self.counters = dict.fromkeys(
            ("tokenRequests", "tokenFailures", "cancelRequests", "operationGets", "unauthorized",
             "retryAfterViolations", "tokenRetryAfterViolations", "assertionsVerified",
             "assertionsRefused", "federatedVerified", "federatedRefused", "miRequests",
             "arcChallenges", "openidRequests", "keysRequests"), 0)
        self.federated = []    # claims of the verified federated assertions
        self.mi_requests = []  # what each managed identity request carried
        self.tokens_issued = []
        self.assertions = []  # claims of the verified client assertions
        self.cancels = []
        self.requests = []
        # When the latest Retry-After sent by each service runs out. Graph and the login host
        # are separate services, so a throttled token request does not forbid Graph calls made
        # with a still-valid cached token, and vice versa.
        self.retry_until = {"graph": 0.0, "token": 0.0}

    # --- config and faults -------------------------------------------------------------

    def get(self, key):
        with self.lock:
            return self.config[key]

    def update_config(self, changes):
        checked = {}
        for key, value in changes.items():
            if key not in CONFIG_CHECKS:
                raise ValueError("unknown config key %r" % key)
            try:
                checked[key] = CONFIG_CHECKS[key](value)
            except ValueError as e:
                raise ValueError("%s %s" % (key, e)) from None
        with self.lock:
            self.config.update(checked)
            shown = dict(self.config)
        if shown["clientSecret"] is not None:
            shown["clientSecret"] = "(set)"  # answers end up in test logs; keep the secret out
        return shown

    def set_rules(self, rules):
        with self.lock:
            self.rules = rules

    def take_fault(self, kind, now):
        """The first rule that applies to this request, with its budget spent; None if none."""
        with self.lock:
            for rule in self.rules:
                if rule["kind"] not in (kind, "any"):
                    continue
                if rule["untilT"] is not None and now >= rule["untilT"]:
                    continue
                if rule["remaining"] is not None and rule["remaining"] <= 0:
                    continue
                if rule["probability"] is not None and self.rng.random() >= rule["probability"]:
                    continue
                if rule["remaining"] is not None:
                    rule["remaining"] -= 1
                rule["hits"] += 1
                return dict(rule)
        return None

    # --- tokens --------------------------------------------------------------------------

    def issue_token(self, now, tenant):
        token = new_token(tenant)
        with self.lock:
            lifetime = self.config["tokenLifetime"]
            self.tokens[token] = now + lifetime
            self.token_tenants[token] = tenant.lower()
            self.tokens_issued.append(token)
            return token, lifetime, self.config["refreshIn"], self.config["expiresInAsString"]

    def note_assertion(self, claims):
        """Counts one client assertion: claims of a verified one, None for a refused one."""
        with self.lock:
            if claims is None:
                self.counters["assertionsRefused"] += 1
            else:
                self.counters["assertionsVerified"] += 1
                self.assertions.append(dict(claims))

    def token_tenant(self, token):
        with self.lock:
            return self.token_tenants.get(token)
    def issue_federated(self, subject, lifetime, audience=FEDERATED_AUDIENCE, now=None):
        """A JWT this stand-in signs as an external identity provider."""
        now = int(now if now is not None else time.time())
        header = {"alg": "HS256", "typ": "JWT", "kid": FEDERATED_KID}
        claims = {"iss": "https://standin.invalid/federated", "sub": subject, "aud": audience,
                  "iat": now, "nbf": now, "exp": now + int(lifetime), "jti": str(uuid.uuid4())}
        signing_input = "%s.%s" % (b64url_encode(json.dumps(header).encode()),
                                   b64url_encode(json.dumps(claims).encode()))
        mac = hmac.new(self.federated_key, signing_input.encode("ascii"), hashlib.sha256).digest()
        return "%s.%s" % (signing_input, b64url_encode(mac))

    def verify_federated(self, parts):
        signing_input = ("%s.%s" % (parts[0], parts[1])).encode("ascii")
        mac = hmac.new(self.federated_key, signing_input, hashlib.sha256).digest()
        try:
            given = b64url_decode(parts[2])
        except ValueError:
            return False
        return hmac.compare_digest(mac, given)

    def note_federated(self, claims):
        with self.lock:
            if claims is None:
                self.counters["federatedRefused"] += 1
            else:
                self.counters["federatedVerified"] += 1
                self.federated.append(dict(claims))

    def note_mi_request(self, entry):
        with self.lock:
            self.counters["miRequests"] += 1
            self.mi_requests.append(entry)

    def token_state(self, token, now):
        """'valid', 'expired' or 'unknown'."""
        with self.lock:
            expiry = self.tokens.get(token)
        if expiry is None:
            return "unknown"
        return "valid" if now < expiry else "expired"

    def expire_tokens(self, now):
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = min(self.tokens[token], now)
            return len(self.tokens)

    # --- calls and operations ----------------------------------------------------------

    def call_ended(self, call_id):
        if call_id.lower().startswith("unknown-"):
            return True
        with self.lock:
            return call_id in self.config["endedCalls"]

    def new_operation(self, call_id, client_context):
        op_id = str(uuid.uuid4())
        with self.lock:
            op = {"id": op_id, "callId": call_id, "clientContext": client_context,
                  "status": self.config["cancelStatus"], "step": 0}
            self.operations[op_id] = op
            # The doc's example shows a Location id different from the body id; optionally
            # imitate that, keeping both resolvable.
            location_id = op_id
            if self.config["locationIdDiffers"]:
                location_id = str(uuid.uuid4())
                self.operations[location_id] = op
            return dict(op), location_id

    def get_operation(self, call_id, op_id):
        """The operation after one progression step, or None when unknown or on another call."""
        with self.lock:
            op = self.operations.get(op_id)
            if op is None or op["callId"] != call_id:
                return None
            steps = self.config["operationSteps"]
            if steps:
                op["status"] = steps[min(op["step"], len(steps) - 1)]
                op["step"] += 1
            return dict(op)

    # --- Retry-After ---------------------------------------------------------------------

    def note_retry_after(self, service, value, sent_at):
        secs = retry_after_seconds(value, sent_at)
        if secs is None:
            return
        with self.lock:
            self.retry_until[service] = max(self.retry_until[service], sent_at + secs)

    def check_retry_after(self, service, arrived):
        """True (and counted) when a request came while a Retry-After was still running."""
        with self.lock:
            if arrived < self.retry_until[service] - RETRY_AFTER_TOLERANCE:
                key = "retryAfterViolations" if service == "graph" else "tokenRetryAfterViolations"
                self.counters[key] += 1
                return True
        return False

    # --- recording -----------------------------------------------------------------------

    def record(self, t, method, path, status, kind, violation=False, cancel=None, extra=None):
        entry = {"t": t, "method": method, "path": path, "status": status, "kind": kind}
        if extra:
            entry.update(extra)
        if violation:
            entry["retryAfterViolation"] = True
        with self.lock:
            c = self.counters
            if kind == "token":
                c["tokenRequests"] += 1
                if status != 200:
                    c["tokenFailures"] += 1
            elif kind == "cancel":
                c["cancelRequests"] += 1
            elif kind == "operation":
                c["operationGets"] += 1
            if kind in ("cancel", "operation", "other") and status == 401:
                c["unauthorized"] += 1
            if cancel is not None:
                self.cancels.append(dict(cancel, t=t, status=status, path=path, **(extra or {})))
            if kind == "keys":
                # Counted on their own: the daemon fetches them in the background, and tests
                # that count Graph's requests must not see them.
                c["openidRequests" if path.endswith(OPENID_PATH) else "keysRequests"] += 1
                return
            self.requests.append(entry)
            if self.log_file:
                self.log_file.write(json.dumps(entry) + "\n")
        if self.verbose:
            sys.stderr.write("graph-standin: %s %s -> %s (%s)\n" % (method, path, status, kind))

    def stats(self):
        with self.lock:
            out = dict(self.counters)
            out["tokensIssued"] = list(self.tokens_issued)
            out["assertions"] = [dict(a) for a in self.assertions]
            out["federated"] = [dict(a) for a in self.federated]
            out["miRequestLog"] = [dict(r) for r in self.mi_requests]
            out["arcKeyFiles"] = list(self.arc_key_files)
            out["cancels"] = [dict(c) for c in self.cancels]
            out["requests"] = [dict(r) for r in self.requests]
            out["operationsStored"] = len({id(op) for op in self.operations.values()})
            return out

    def fault_rules(self):
        with self.lock:
            return [dict(r) for r in self.rules]


# ------------------------------------------------------------------------------------------
# Request handling


def classify(path):
    """(kind, match) for a request path; kind is token, cancel, operation, control or other."""
    if path.startswith(CONTROL_PREFIX):
        return "control", None
    if path in (OPENID_PATH, KEYS_PATH):
        return "keys", None
    m = TOKEN_RE.match(path)
    if m:
        return "token", m
    for rx, form in ((CANCEL_CURRENT_RE, "current"), (CANCEL_APP_RE, "app"), (CANCEL_APPS_RE, "applications")):
        m = rx.match(path)
        if m:
            return "cancel", (form, m)
    for rx, form in ((OP_CURRENT_RE, "current"), (OP_APP_RE, "app"), (OP_APPS_RE, "applications")):
        m = rx.match(path)
        if m:
            return "operation", (form, m)
    return "other", None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    # Headers and body go out in separate writes; without this, Nagle plus the client's delayed
    # ACK adds ~40 ms to every answer on a kept-alive connection.
    disable_nagle_algorithm = True
    server_version = "graph-standin"

    def version_string(self):
        return self.server_version

    # --- plumbing ------------------------------------------------------------------------

    @property
    def state(self):
        return self.server.state

    def log_message(self, fmt, *args):
        # One line per request on stderr would drown test output; only with --verbose.
        if self.state.verbose:
            super().log_message(fmt, *args)

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def host(self):
        return self.headers.get("Host") or "%s:%d" % (self.server.server_name, self.server.server_port)

    def read_body(self):
        """The request body (Content-Length or chunked); always drained so keep-alive stays in step."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
        except ValueError:
            n = -1
        if n < 0:
            self.close_connection = True
            raise HttpError(400, "Invalid Content-Length.")
        if n > MAX_BODY:
            self.close_connection = True
            raise HttpError(413, "Request body is too large.")
        return self.rfile.read(n)

    def _read_chunked(self):
        data = b""
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise HttpError(400, "Invalid chunked encoding.") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields are ignored
                return data
            if len(data) + size > MAX_BODY:
                self.close_connection = True
                raise HttpError(413, "Request body is too large.")
            data += self.rfile.read(size)
            self.rfile.readline(3)

    def send(self, status, body=None, content_type=PLAIN_JSON, headers=()):
        """One complete answer. body: bytes, a JSON-able value, or None for an empty body."""
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode("utf-8")
        self.send_response(status)  # adds Date and Server
        for name, value in headers:
            self.send_header(name, value)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body or b"")))
        if self.close_connection:
            self.send_header("Connection", "close")
        # Counted before the client can read the answer: a test that checks the counters right
        # after its answer must find this request in them.
        self.answer_status = status
        self.record_once()
        self.end_headers()
        if body:
            self.wfile.write(body)

    def reset_connection(self):
        """Drops the TCP connection with a RST and no answer (SO_LINGER 0, then close)."""
        sock = self.connection
        self.close_connection = True
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        # The buffered reader holds a reference that would postpone the real close.
        self.rfile.close()
        sock.close()
        self.answer_status = 0

    # --- per-request flow ----------------------------------------------------------------

    def record_once(self):
        """Records this request in the stats, once: when its answer starts, or at the end."""
        if self.recorded:
            return
        self.recorded = True
        self.state.record(self.arrived, self.command, self.path, self.answer_status, self.kind,
                          violation=self.violation, cancel=self.cancel_info, extra=self.extra)

    def dispatch(self):
        arrived = time.time()
        self.arrived = arrived
        self.recorded = False
        self.violation = False
        self.answer_status = None
        self.extra = {}  # "tenant" of a token request, "tokenTenant" of a Graph request
        self.request_id = str(uuid.uuid4())
        self.client_request_id = self.headers.get("client-request-id") or str(uuid.uuid4())
        path = urlsplit(self.path).path
        kind, route = classify(path)
        self.kind = kind
        # What stats()["cancels"] keeps about a cancel; filled in as the request is understood.
        self.cancel_info = None
        if kind == "cancel":
            form, m = route
            self.cancel_info = {"callId": unquote(m.group(3 if form == "applications" else 2)),
                                "clientContext": None}
        violation = False
        try:
            try:
                body = self.read_body()
                if self.cancel_info is not None:
                    self.cancel_info["clientContext"] = peek_client_context(body)
                if kind == "control":
                    self.handle_control(path, body)
                elif kind == "keys":
                    self.handle_keys(path)
                else:
                    service = "token" if kind == "token" else "graph"
                    violation = self.state.check_retry_after(service, arrived)
                    self.violation = violation
                    self.serve(kind, route, body)
            except HttpError as e:
                self.send_error_for(kind, e)
            except AadError as e:
                self.send_aad_error(e)
        except (ConnectionError, TimeoutError, ssl.SSLError):
            # The client went away mid-answer; still record what was attempted.
            self.close_connection = True
            if self.answer_status is None:
                self.answer_status = 0
        except Exception:  # a bug in the stand-in: say so loudly, still answer
            traceback.print_exc()
            if self.answer_status is None:
                self.close_connection = True
                self.send_error_for(kind, HttpError(500, "Stand-in internal error."))
        self.record_once()

    def serve(self, kind, route, body):
        """Latency, then the fault plan, then the real endpoint."""
        latency = self.state.get("tokenLatencyMs" if kind == "token" else "latencyMs")
        if latency:
            time.sleep(latency / 1000.0)
        rule = self.state.take_fault(kind, time.time())
        if rule is not None:
            if rule["action"] == "reset":
                self.reset_connection()
                return
            if rule["action"] == "stall":
                time.sleep(rule["stallMs"] / 1000.0)
            else:
                self.send_fault(kind, rule)
                return
        if kind == "token":
            self.handle_token(route, body)
        elif kind == "cancel":
            self.handle_cancel(route, body)
        elif kind == "operation":
            self.handle_operation(route)
        else:
            segment = urlsplit(self.path).path.rsplit("/", 1)[-1]
            raise HttpError(404, "Resource not found for the segment '%s'." % segment)

    # --- error bodies --------------------------------------------------------------------

    def graph_headers(self):
        return [("request-id", self.request_id), ("client-request-id", self.client_request_id)]

    def graph_error_body(self, code, message, extra_inner=None):
        inner = {"date": graph_date(time.time()), "request-id": self.request_id,
                 "client-request-id": self.client_request_id}
        if extra_inner:
            inner.update(extra_inner)
        return {"error": {"code": code, "message": message, "innerError": inner}}

    def send_error_for(self, kind, err):
        if kind == "token":
            if err.status < 500:
                self.send_aad_error(AadError(err.status, "invalid_request", 900144, err.message))
            else:
                self.send_aad_error(AadError(err.status, "temporarily_unavailable", 90033, err.message))
        elif kind == "control":
            self.send(err.status, {"error": err.message})
        else:
            headers = self.graph_headers()
            if err.status == 401:
                headers.append(("WWW-Authenticate", 'Bearer realm="", error="invalid_token"'))
            code = err.code or GRAPH_ERROR_CODES.get(err.status, "UnknownError")
            self.send(err.status, self.graph_error_body(code, err.message), headers=headers)

    def aad_error_body(self, err):
        now = time.time()
        trace_id = str(uuid.uuid4())
        correlation_id = self.headers.get("client-request-id") or str(uuid.uuid4())
        stamp = aad_timestamp(now)
        return {
            "error": err.error,
            "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s"
                                 % (err.aadsts, err.text, trace_id, correlation_id, stamp),
            "error_codes": [err.aadsts],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": "https://%s/error?code=%d" % (self.host(), err.aadsts),
        }

    def token_headers(self):
        headers = [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache"),
                   ("x-ms-request-id", self.request_id)]
        if self.headers.get("client-request-id"):
            headers.append(("client-request-id", self.headers["client-request-id"]))
        return headers

    def send_aad_error(self, err, extra_headers=()):
        self.send(err.status, self.aad_error_body(err), headers=self.token_headers() + list(extra_headers))

    def send_fault(self, kind, rule):
        """An injected status answer, with the body shape of the service it pretends to be."""
        status = rule["status"]
        headers = []
        # The wait starts when the answer starts to go out: the client may read it and start
        # counting before this thread gets the interpreter back after writing it.
        sent_at = time.time()
        if rule["retryAfter"] is not None:
            headers.append(("Retry-After", rule["retryAfter"]))
        if kind == "token":
            if "body" in rule:
                self.send(status, rule["body"], headers=self.token_headers() + headers)
            elif status == 429:
                self.send_aad_error(AadError(429, "temporarily_unavailable", 90055,
                                             "There are too many incoming requests. Retry later."), headers)
            elif status >= 500:
                self.send_aad_error(AadError(status, "temporarily_unavailable", 90033,
                                             "A transient error has occurred. Please try again."), headers)
            else:
                self.send_aad_error(AadError(status, "invalid_request", 90100,
                                             "Injected fault from the stand-in's fault plan."), headers)
        else:
            headers = self.graph_headers() + headers
            if "body" in rule:
                body = rule["body"]
            elif status == 429:
                body = self.graph_error_body("TooManyRequests", "Please retry again later.",
                                             {"code": "429", "message": "Please retry after", "status": "429"})
            elif status == 503:
                body = self.graph_error_body("ServiceUnavailable",
                                             "Service is temporarily unavailable. Please retry later.")
            else:
                body = self.graph_error_body(GRAPH_ERROR_CODES.get(status, "UnknownError"),
                                             "Injected fault from the stand-in's fault plan.")
            self.send(status, None if status in (204, 304) else body, headers=headers)
        if rule["retryAfter"] is not None:
            self.state.note_retry_after("token" if kind == "token" else "graph", rule["retryAfter"], sent_at)

    # --- identity platform: POST /{tenant}/oauth2/v2.0/token ------------------------------

    def handle_token(self, match, body):
        tenant = unquote(match.group(1))
        self.extra["tenant"] = tenant.lower()
        if self.command != "POST":
            raise AadError(400, "invalid_request", 900561,
                           "The endpoint only accepts POST, OPTIONS requests. Received a %s request." % self.command)
        if tenant.lower() in ("common", "consumers"):
            raise AadError(400, "invalid_request", 9001023,
                           "The grant type provided is not supported over the /common or /consumers "
                           "endpoints. Please use the /organizations or tenant-specific endpoint.")
        if tenant.lower() in self.state.get("loginDownTenants"):
            raise AadError(503, "temporarily_unavailable", 90033,
                           "A transient error has occurred. Please try again.")
        if tenant.lower() not in self.state.tenants:
            raise AadError(400, "invalid_request", 90002,
                           "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are "
                           "signing into the correct cloud. Check with your subscription administrator, this may "
                           "happen if there are no active subscriptions for the tenant." % tenant)

        form = self.parse_form(body)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise missing_parameter("grant_type")
        if grant_type != "client_credentials":
            raise AadError(400, "unsupported_grant_type", 70003,
                           "The app requested an unsupported grant type '%s'." % grant_type)

        client_id, secret = self.client_credentials(form)
        if not client_id:
            raise missing_parameter("client_id")
        scope = form.get("scope")
        if not scope:
            raise missing_parameter("scope")
        if client_id.lower() != self.state.client_id.lower():
            raise AadError(400, "unauthorized_client", 700016,
                           "Application with identifier '%s' was not found in the directory '%s'. This can "
                           "happen if the application has not been installed by the administrator of the tenant "
                           "or consented to by any user in the tenant. You may have sent your authentication "
                           "request to the wrong tenant." % (client_id, tenant))
        assertion = form.get("client_assertion")
        if assertion is not None and secret is not None:
            raise AadError(401, "invalid_client", 50012,
                           "The request carries both a client secret and a client assertion; send exactly one "
                           "client credential.")
        if assertion is not None and is_federated(assertion):
            claims = None
            try:
                claims = self.check_federated_assertion(form, assertion)
            finally:
                self.state.note_federated(claims)
        elif assertion is not None:
            claims = None
            try:
                claims = self.check_client_assertion(form, assertion)
            finally:
                self.state.note_assertion(claims)
        elif secret is None:
            raise AadError(401, "invalid_client", 7000218,
                           "The request body must contain the following parameter: "
                           "'client_assertion' or 'client_secret'.")
        elif not secrets.compare_digest(secret.encode(), (self.state.get("clientSecret") or "").encode()) \
                or not self.state.get("clientSecret"):
            raise AadError(401, "invalid_client", 7000215,
                           "Invalid client secret provided. Ensure the secret being sent in the request is the "
                           "client secret value, not the client secret ID, for a secret added to app '%s'." % client_id)
        self.check_scope(scope)

        token, lifetime, refresh_in, as_string = self.state.issue_token(time.time(), tenant)
        num = str if as_string else (lambda v: v)
        answer = {"token_type": "Bearer", "expires_in": num(lifetime), "ext_expires_in": num(lifetime),
                  "access_token": token}
        if refresh_in is not None:
            answer["refresh_in"] = num(refresh_in)
        self.send(200, answer, headers=self.token_headers())

    def check_client_assertion(self, form, assertion):
        """Verifies a certificate client assertion (reference 5.2) and returns its claims, or
        raises the AadError the identity platform would answer with. Order: form, header,
        registered key (thumbprint, validity), signature, then claims."""
        def invalid(text):
            return AadError(401, "invalid_client", 50012, text)

        def bad_signature(reason=None):
            text = "Client assertion failed signature validation."
            if reason:
                text += " [Reason - %s, Thumbprint of key used by client: '%s']" % (reason, header.get("x5t#S256"))
            return AadError(401, "invalid_client", 700027, text)

        def bad_time(reason):
            # AADSTS700024 for this case is [UNCONFIRMED] (reference 5.4); see docs/standin.md.
            return AadError(401, "invalid_client", 700024,
                            "Client assertion is not within its valid time range. [Reason - %s]" % reason)

        assertion_type = form.get("client_assertion_type")
        if not assertion_type:
            raise missing_parameter("client_assertion_type")
        if assertion_type != CLIENT_ASSERTION_TYPE:
            raise invalid("The client_assertion_type '%s' is not supported; use '%s'."
                          % (assertion_type, CLIENT_ASSERTION_TYPE))

        parts = assertion.split(".")
        try:
            if len(parts) != 3:
                raise ValueError("not three parts")
            header = json.loads(b64url_decode(parts[0]).decode("utf-8"))
            claims = json.loads(b64url_decode(parts[1]).decode("utf-8"))
            signature = b64url_decode(parts[2])
            if not isinstance(header, dict) or not isinstance(claims, dict):
                raise ValueError("not JSON objects")
        except (ValueError, UnicodeDecodeError):
            raise invalid("The client assertion is not a well-formed JWT (three base64url parts, "
                          "header and claims JSON objects).") from None

        if header.get("alg") != "PS256":
            raise invalid("Client assertion header alg %r is not accepted here; PS256 is expected."
                          % header.get("alg"))
        if header.get("typ") != "JWT":
            raise invalid("Client assertion header typ %r is not accepted; JWT is expected." % header.get("typ"))

        cert = self.state.client_certificate
        if cert is None or header.get("x5t#S256") != cert.thumbprint:
            raise bad_signature("The key was not found.")
        now = time.time() + self.state.get("clockOffsetSec")
        if not cert.not_before <= now < cert.not_after:
            raise bad_signature("The key used is expired.")
        if not cert.verify_ps256(("%s.%s" % (parts[0], parts[1])).encode("ascii"), signature):
            raise bad_signature()

        expected_aud = "https://%s%s" % (self.host(), urlsplit(self.path).path)
        if claims.get("aud") != expected_aud:
            raise invalid("Client assertion audience claim %r does not match the token endpoint '%s'."
                          % (claims.get("aud"), expected_aud))
        client_id = self.state.client_id.lower()
        for name in ("iss", "sub"):
            value = claims.get(name)
            if not isinstance(value, str) or value.lower() != client_id:
                raise invalid("Client assertion %s claim %r is not the application id '%s'."
                              % (name, value, self.state.client_id))
        if not isinstance(claims.get("jti"), str) or not claims["jti"]:
            raise invalid("Client assertion has no jti claim.")
        nbf, exp = claims.get("nbf"), claims.get("exp")
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in (nbf, exp)):
            raise invalid("Client assertion nbf and exp claims must be numbers.")
        if nbf > now + ASSERTION_CLOCK_SKEW:
            raise bad_time("nbf %d is in the future" % nbf)
        if exp <= now:
            raise bad_time("exp %d has passed" % exp)
        if exp - nbf > ASSERTION_MAX_LIFETIME:
            raise bad_time("exp - nbf is %d s, more than %d s" % (exp - nbf, ASSERTION_MAX_LIFETIME))
        return claims

    def check_federated_assertion(self, form, assertion):
        """A federated client assertion (reference 2.1): a token of an external identity provider
        (here: one this stand-in issued) for the exchange audience, inside its lifetime. Codes:
        AADSTS700027 bad signature, AADSTS700212 wrong audience, AADSTS700024 outside its time
        range (the platform's answer to an expired projected token)."""
        assertion_type = form.get("client_assertion_type")
        if not assertion_type:
            raise missing_parameter("client_assertion_type")
        if assertion_type != CLIENT_ASSERTION_TYPE:
            raise AadError(401, "invalid_client", 50012, "The client_assertion_type '%s' is not supported; use '%s'."
                           % (assertion_type, CLIENT_ASSERTION_TYPE))
        parts = assertion.split(".")
        try:
            claims = json.loads(b64url_decode(parts[1]).decode("utf-8"))
            if not isinstance(claims, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError, IndexError):
            raise AadError(401, "invalid_client", 50027, "JWT token is invalid or malformed.") from None
        if not self.state.verify_federated(parts):
            raise AadError(401, "invalid_client", 700027, "Client assertion failed signature validation.")
        if claims.get("aud") != FEDERATED_AUDIENCE:
            raise AadError(401, "invalid_client", 700212,
                           "No matching federated identity record found for presented assertion audience '%s'."
                           % claims.get("aud"))
        now = time.time() + self.state.get("clockOffsetSec")
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, (int, float)) or exp <= now:
            raise AadError(401, "invalid_client", 700024,
                           "Client assertion is not within its valid time range. [Reason - The client "
                           "assertion is expired.]")
        if isinstance(nbf, (int, float)) and nbf > now + ASSERTION_CLOCK_SKEW:
            raise AadError(401, "invalid_client", 700024,
                           "Client assertion is not within its valid time range. [Reason - nbf is in the future.]")
        return claims

    def parse_form(self, body):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return {}  # the service then finds no grant_type, as the real one does
        form = {}
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise AadError(400, "invalid_request", 900144, "The request body is not valid UTF-8.") from None
        for key, value in pairs:
            form.setdefault(key, value)
        return form

    def client_credentials(self, form):
        """client_id and secret from the form, or from HTTP Basic (RFC 6749 2.3.1), which the v2.0 endpoint accepts."""
        auth = self.headers.get("Authorization") or ""
        if auth[:6].lower() == "basic ":
            try:
                user, _, pw = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise AadError(401, "invalid_client", 7000215, "Invalid client secret provided.") from None
            return unquote_plus(user), unquote_plus(pw)
        return form.get("client_id"), form.get("client_secret")

    def check_scope(self, scope):
        """The one valid scope is the configured cloud's Graph root followed by /.default (the
        daemon never derives it from where it sends requests), unless scopeResource names
        another resource."""
        resource = self.state.get("scopeResource") or CLOUD_GRAPH_ROOTS[self.state.cloud]
        expected = ("%s/.default" % resource).lower()
        scopes = scope.split()
        if len({s.lower() for s in scopes}) > 1:
            raise AadError(400, "invalid_scope", 700022,
                           "The provided value for the input parameter scope is not valid because it contains "
                           "more than one resource. Scope %s is not valid." % scope)
        if not scopes[0].endswith("/.default"):
            raise AadError(400, "invalid_scope", 1002012,
                           "The provided value for scope %s is not valid. Client credential flows must have a scope "
                           "value with /.default suffixed to the resource identifier (application ID URI)." % scope)
        if scopes[0].lower() != expected:
            raise AadError(400, "invalid_scope", 70011,
                           "The provided value for the input parameter 'scope' is not valid. "
                           "The scope %s is not valid." % scope)

    # --- Graph ---------------------------------------------------------------------------

    def require_token(self):
        auth = (self.headers.get("Authorization") or "").strip()
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise HttpError(401, "Access token is empty.")
        state = self.state.token_state(token, time.time())
        if state != "valid":
            # Real Graph words a forged token differently, but the code is the same and the
            # code is what clients branch on.
            raise HttpError(401, "Access token has expired or is not yet valid.")
        self.extra["tokenTenant"] = self.state.token_tenant(token)

    def require_call_tenant(self, call_id):
        """A call lives in one tenant (callTenants; unlisted calls in the token's own): another
        tenant's token gets what Graph answers then, 403 with code 7504."""
        owner = self.state.get("callTenants").get(call_id.lower())
        if owner is not None and owner != self.extra.get("tokenTenant"):
            raise HttpError(403, "Insufficient enterprise tenant permissions, you cannot access this data.",
                            code="7504")

    def handle_cancel(self, route, body):
        form, m = route
        version = m.group(1)
        call_id = self.cancel_info["callId"]
        if self.command != "POST":
            raise HttpError(405, "The HTTP method '%s' is not allowed for this action." % self.command)
        self.require_token()
        if form == "applications" and unquote(m.group(2)).lower() != self.state.client_id.lower():
            raise HttpError(404, "Application %s not found." % unquote(m.group(2)), code="NotFound")

        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise HttpError(415, "Content-Type '%s' is not supported; use 'application/json'."
                            % (self.headers.get("Content-Type") or ""))
        params = self.parse_cancel_body(body, legacy=form != "current")
        self.require_call_tenant(call_id)

        if self.state.call_ended(call_id):
            raise HttpError(404, "Call %s not found." % call_id, code="NotFound")

        op, location_id = self.state.new_operation(call_id, params.get("clientContext"))
        self.cancel_info["operationId"] = op["id"]
        base = {"current": "/%s/communications/calls/%s" % (version, call_id),
                "app": "/beta/app/calls/%s" % call_id,
                "applications": "/beta/applications/%s/calls/%s" % (unquote(m.group(2)), call_id)}[form]
        location = ("Location", "https://%s%s/operations/%s" % (self.host(), base, location_id))
        answer = self.state.get("currentAnswer" if form == "current" else "legacyAnswer")
        if answer == 200:
            self.send(200, self.operation_body(version, op), GRAPH_JSON, self.graph_headers() + [location])
        elif answer == 202:
            self.send(202, None, headers=self.graph_headers() + [location])
        else:
            self.send(204, None, headers=self.graph_headers())

    def parse_cancel_body(self, body, legacy):
        """The action's parameters: clientContext (optional string, at most 256 characters);
        `all` (boolean) only on the 2018 beta forms, where it still existed."""
        if not body.strip():
            raise HttpError(400, "Empty Payload. JSON content expected.")
        try:
            params = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise HttpError(400, "Invalid JSON. The request body could not be parsed.") from None
        if not isinstance(params, dict):
            raise HttpError(400, "Invalid request body: a JSON object is expected.")
        allowed = {"clientContext", "all"} if legacy else {"clientContext"}
        for key in params:
            if key.startswith("@"):
                continue  # OData annotations are not parameters
            if key not in allowed:
                raise HttpError(400, "Invalid request body: unknown property '%s'. The property does not exist on "
                                     "action 'microsoft.graph.cancelMediaProcessing'." % key)
        cc = params.get("clientContext")
        if cc is not None and not isinstance(cc, str):
            raise HttpError(400, "Invalid request body: 'clientContext' must be a string.")
        if cc is not None and len(cc) > CLIENT_CONTEXT_MAX:
            raise HttpError(400, "Invalid request body: 'clientContext' is longer than %d characters."
                            % CLIENT_CONTEXT_MAX)
        if "all" in params and not isinstance(params["all"], bool):
            raise HttpError(400, "Invalid request body: 'all' must be a boolean.")
        return params

    def operation_body(self, version, op):
        return {
            "@odata.context": "https://%s/%s/$metadata#microsoft.graph.cancelMediaProcessingOperation"
                              % (self.host(), version),
            "@odata.type": OPERATION_TYPE,
            "status": op["status"],
            "clientContext": op["clientContext"],
            "id": op["id"],
            "resultInfo": result_info(op["status"], self.state.get("resultMessage")),
        }

    def handle_operation(self, route):
        form, m = route
        if form == "applications":
            app_id, call_id, op_id = (unquote(m.group(i)) for i in (2, 3, 4))
        else:
            app_id, call_id, op_id = None, unquote(m.group(2)), unquote(m.group(3))
        if self.command != "GET":
            raise HttpError(405, "The HTTP method '%s' is not allowed for this resource." % self.command)
        self.require_token()
        if app_id is not None and app_id.lower() != self.state.client_id.lower():
            raise HttpError(404, "Application %s not found." % app_id)
        self.require_call_tenant(call_id)
        if self.state.call_ended(call_id):
            raise HttpError(404, "Call %s not found." % call_id)
        op = self.state.get_operation(call_id, op_id)
        if op is None:
            raise HttpError(404, "Operation %s not found." % op_id)
        self.send(200, self.operation_body(m.group(1), op), GRAPH_JSON, self.graph_headers())

    # --- notification signing keys -------------------------------------------------------

    def handle_keys(self, path):
        """The OpenID document and the JWKS; no latency and no fault rules (keysDown instead)."""
        if self.command != "GET":
            raise HttpError(405, "The HTTP method '%s' is not allowed for this resource." % self.command)
        if self.state.get("keysDown"):
            self.send(503, {"error": "keys are down (keysDown)"})
            return
        if path == OPENID_PATH:
            self.send(200, {"issuer": NOTIFICATION_ISSUER, "jwks_uri": "https://%s%s" % (self.host(), KEYS_PATH),
                            "id_token_signing_alg_values_supported": ["RS256"]})
        else:
            self.send(200, self.state.signer.jwks())

    def control_notification_token(self, body):
        obj = self.control_object(body)
        variant = obj.get("variant", "good")
        tenant = obj.get("tenant")
        if tenant is not None and not isinstance(tenant, str):
            raise ValueError("tenant must be a string")
        return {"authorization": self.state.signer.token(variant, tenant), "kid": self.state.signer.current()["kid"]}

    def control_rotate_keys(self, body):
        obj = self.control_object(body)
        return {"kid": self.state.signer.rotate(bool(obj.get("keepOld", False)))}

    # --- control API ---------------------------------------------------------------------

    def handle_control(self, path, body):
        name = path[len(CONTROL_PREFIX):]
        routes = {
            ("GET", "stats"): lambda _: self.state.stats(),
            ("GET", "ping"): lambda _: {"ok": True, "port": self.server.server_port},
            ("POST", "reset"): self.control_reset,
            ("GET", "config"): lambda _: self.state.update_config({}),
            ("POST", "config"): lambda b: self.state.update_config(self.control_object(b)),
            ("GET", "faults"): lambda _: {"rules": self.state.fault_rules()},
            ("POST", "faults"): self.control_faults,
            ("POST", "expire-tokens"): lambda _: {"expired": self.state.expire_tokens(time.time())},
            ("POST", "federated-token"): self.control_federated_token,
            ("POST", "notification-token"): self.control_notification_token,
            ("GET", "notification-tokens"): lambda _: {v: self.state.signer.token(v) for v in TOKEN_VARIANTS},
            ("POST", "rotate-keys"): self.control_rotate_keys,
            ("GET", "keys"): lambda _: self.state.signer.jwks(),
        }
        action = routes.get((self.command, name))
        if action is None:
            raise HttpError(404, "no control endpoint %s %s" % (self.command, path))
        try:
            result = action(body)
        except ValueError as e:
            raise HttpError(400, str(e)) from None
        self.send(200, result)

    @staticmethod
    def control_object(body):
        try:
            value = json.loads(body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, ValueError):
            raise ValueError("body is not valid JSON") from None
        if not isinstance(value, dict):
            raise ValueError("body must be a JSON object")
        return value

    def control_reset(self, _body):
        self.state.reset()
        return {"ok": True}

    def control_federated_token(self, body):
        """A token as a Kubernetes cluster would project it into a pod, for ClientAssertionFile=."""
        obj = self.control_object(body)
        subject = obj.get("subject", "system:serviceaccount:default:mediacanceld")
        lifetime = obj.get("lifetime", 3600)
        audience = obj.get("audience", FEDERATED_AUDIENCE)
        if not isinstance(subject, str) or not isinstance(audience, str) or isinstance(lifetime, bool) \
                or not isinstance(lifetime, int):
            raise ValueError("subject and audience must be strings, lifetime an integer")
        return {"token": self.state.issue_federated(subject, lifetime, audience)}

    def control_faults(self, body):
        obj = self.control_object(body)
        rules = obj.get("rules", [])
        if not isinstance(rules, list):
            raise ValueError("rules must be a list")
        parsed = []
        for i, raw in enumerate(rules):
            try:
                parsed.append(parse_fault_rule(raw))
            except ValueError as e:
                raise ValueError("rule %d: %s" % (i, e)) from None
        self.state.set_rules(parsed)
        return {"rules": self.state.fault_rules()}


def is_federated(assertion):
    """Whether a client assertion's header names the stand-in's federated key."""
    try:
        header = json.loads(b64url_decode(assertion.split(".")[0]).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and header.get("kid") == FEDERATED_KID


# ------------------------------------------------------------------------------------------
# Managed identity endpoint: plain HTTP, its own port (--mi-port-file). IMDS at MI_PATH, Azure
# Arc at ARC_PATH (reference 2.3).


class MiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "graph-standin-mi"

    def log_message(self, fmt, *args):
        if self.server.state.verbose:
            super().log_message(fmt, *args)

    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        state = self.server.state
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        arc = url.path == ARC_PATH
        entry = {"path": url.path, "query": query, "metadata": self.headers.get("Metadata"),
                 "authorization": (self.headers.get("Authorization") or "").split(" ")[0] or None}
        state.note_mi_request(entry)
        if url.path not in (MI_PATH, ARC_PATH):
            return self.answer(404, {"error": "not_found", "error_description": "No such endpoint."})
        rule = state.take_fault("mi", time.time())
        if rule is not None and rule["action"] == "stall":
            time.sleep(rule["stallMs"] / 1000.0)
            rule = None
        if rule is not None:
            if rule["action"] == "reset":
                self.close_connection = True
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            return self.answer(rule["status"], rule.get("body") or
                               {"error": "temporarily_unavailable",
                                "error_description": "Injected fault from the stand-in's fault plan."})
        if self.headers.get("Metadata") != "true":
            return self.answer(400, {"error": "invalid_request",
                                     "error_description": "Required metadata header not specified"})
        if not query.get("api-version"):
            return self.answer(400, {"error": "invalid_request", "error_description": "api-version is required"})
        if query.get("resource") != FEDERATED_AUDIENCE:
            return self.answer(400, {"error": "invalid_resource",
                                     "error_description": "This stand-in only issues tokens for %s."
                                     % FEDERATED_AUDIENCE})
        client_id = query.get("client_id")
        if client_id is not None and client_id.lower() != state.mi_client_id.lower():
            return self.answer(400, {"error": "invalid_request", "error_description": "Identity not found"})
        if arc:
            auth = self.headers.get("Authorization") or ""
            with state.lock:
                expected = state.arc_key
            if not auth.startswith("Basic ") or expected is None or \
                    not secrets.compare_digest(auth[6:].encode(), expected.encode()):
                return self.challenge()
            with state.lock:
                state.arc_key = None  # one key, one answer
        subject = "mi-user-%s" % client_id.lower() if client_id else "mi-system"
        lifetime = state.get("miTokenLifetime")
        now = int(time.time())
        token = state.issue_federated(subject, lifetime)
        answer = {"access_token": token, "client_id": client_id or "system-assigned",
                  "expires_in": str(lifetime), "expires_on": str(now + lifetime),
                  "ext_expires_in": str(lifetime), "not_before": str(now),
                  "resource": FEDERATED_AUDIENCE, "token_type": "Bearer"}
        if state.get("miOnlyExpiresOn"):
            del answer["expires_in"], answer["ext_expires_in"]
        self.answer(200, answer)

    def challenge(self):
        """Arc's first answer: a fresh key in a file, its path in the realm."""
        state = self.server.state
        mode = state.get("arcKeyMode")
        key = secrets.token_hex(32)
        if mode == "max":
            key += "x" * (ARC_KEY_MAX - len(key))  # exactly at the limit: accepted
        name = "standin-%s.key" % uuid.uuid4()  # the prefix lets tests clean up after a failure
        inside = os.path.join(state.arc_tokens_dir, name)
        elsewhere = os.path.join(state.mi_scratch_dir or "/tmp", name)
        os.makedirs(state.arc_tokens_dir, exist_ok=True)
        if mode in ("symlink", "outside", "traversal"):
            with open(elsewhere, "w", encoding="ascii") as f:
                f.write(key)
            made = [elsewhere]
        if mode in ("good", "max", "oversized"):
            with open(inside, "w", encoding="ascii") as f:
                f.write(key + "x" * ARC_KEY_MAX if mode == "oversized" else key)
            made = [inside]
            realm = inside
        elif mode == "symlink":
            os.symlink(elsewhere, inside)
            made.append(inside)
            realm = inside
        elif mode == "outside":
            realm = elsewhere
        else:
            realm = os.path.join(state.arc_tokens_dir, os.path.relpath(elsewhere, state.arc_tokens_dir))
        with state.lock:
            state.arc_key = key
            state.arc_key_files.extend(made)
            state.counters["arcChallenges"] += 1
        self.answer(401, {"error": "unauthorized", "error_description": "Basic auth required"},
                    headers=[("WWW-Authenticate", "Basic realm=%s" % realm)])


class MiServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address, state):
        self.state = state
        super().__init__(address, MiHandler)

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def peek_client_context(body):
    """clientContext from a cancel body if it has a string one, so even a faulted or rejected
    cancel can be matched to the request that sent it."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    cc = value.get("clientContext") if isinstance(value, dict) else None
    return cc if isinstance(cc, str) else None


def missing_parameter(name):
    return AadError(400, "invalid_request", 900144,
                    "The request body must contain the following parameter: '%s'." % name)


# ------------------------------------------------------------------------------------------
# Server


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    # server_close() would otherwise join every handler thread, daemon or not (Python 3.11),
    # and a client's idle keep-alive connection would hold up exit until --idle-timeout.
    block_on_close = False
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address, handler, ssl_context, state):
        self.ssl_context = ssl_context
        self.state = state
        if ":" in address[0]:
            self.address_family = socket.AF_INET6  # --listen ::1
        super().__init__(address, handler)

    def server_bind(self):
        # HTTPServer.server_bind would resolve the host name; loopback needs no DNS.
        socketserver.TCPServer.server_bind(self)
        host, self.server_port = self.server_address[:2]
        self.server_name = "[%s]" % host if ":" in host else host

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread, so one slow or broken
        # client never holds up accept() for the others.
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except OSError as e:
            if self.state.verbose:
                sys.stderr.write("graph-standin: TLS handshake with %s failed: %s\n" % (client_address, e))
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()

    def handle_error(self, request, client_address):
        if self.state.verbose:
            super().handle_error(request, client_address)


def make_ssl_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])  # never let a client pick h2: this server speaks 1.1
    return ctx


def write_port_file(path, port):
    """Writes 'PORT\\n' atomically: a reader sees no file or the whole number."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="ascii") as f:
        f.write("%d\n" % port)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def parse_args(argv):
    p = argparse.ArgumentParser(description="HTTPS stand-in for Microsoft Graph cancelMediaProcessing "
                                            "and the identity platform token endpoint.")
    p.add_argument("--listen", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default 0)")
    p.add_argument("--port-file", help="write the bound port here once listening")
    p.add_argument("--cert", required=True, help="server certificate (PEM)")
    p.add_argument("--key", required=True, help="server private key (PEM)")
    p.add_argument("--tenant", required=True, action="append",
                   help="a tenant the token endpoint knows (repeat for more; the first is the app's home); "
                        "others are answered with AADSTS90002")
    p.add_argument("--cloud", choices=sorted(CLOUD_GRAPH_ROOTS), default="Global",
                   help="the cloud whose Graph root makes the one accepted scope (default Global)")
    p.add_argument("--client-id", required=True, help="the only application (client) id it knows")
    p.add_argument("--client-secret-file", help="file holding the client secret")
    p.add_argument("--client-certificate", help="the app registration's certificate (PEM): client assertions "
                                                 "signed with its key are accepted")
    p.add_argument("--token-lifetime", type=int, default=3599, help="expires_in of issued tokens (default 3599)")
    p.add_argument("--refresh-in", type=int, default=None, help="add refresh_in SEC to token answers")
    p.add_argument("--expires-in-as-string", action="store_true", help="send expires_in etc. as JSON strings")
    p.add_argument("--latency-ms", type=float, default=0, help="delay before answering each Graph request")
    p.add_argument("--token-latency-ms", type=float, default=0, help="delay before answering each token request")
    p.add_argument("--cancel-status", type=parse_status_name, default="completed",
                   help="status in the cancel answer: completed, running, notStarted or failed")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--seed", type=int, default=1, help="seed for probabilistic faults (default 1)")
    p.add_argument("--idle-timeout", type=float, default=120,
                   help="close a keep-alive connection idle this many seconds (default 120)")
    p.add_argument("--mi-listen", default="127.0.0.1", help="address of the managed identity endpoint "
                                                            "(default 127.0.0.1)")
    p.add_argument("--mi-port-file", help="serve the managed identity endpoint (plain HTTP) on a port of its "
                                          "own and write that port here")
    p.add_argument("--mi-client-id", default="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                   help="the user-assigned identity's client ID the endpoint knows")
    p.add_argument("--arc-tokens-dir", default="/var/opt/azcmagent/tokens",
                   help="where the Arc challenge writes its key files (default /var/opt/azcmagent/tokens)")
    p.add_argument("--mi-scratch-dir", help="where key files meant to be refused (outside the tokens "
                                            "directory) are written")
    p.add_argument("--verbose", action="store_true", help="log each request on stderr")
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535:
        p.error("--port must be in 0..65535")
    if not args.client_secret_file and not args.client_certificate:
        p.error("give --client-secret-file, --client-certificate or both")
    if args.token_lifetime < 0 or (args.refresh_in is not None and args.refresh_in < 0):
        p.error("--token-lifetime and --refresh-in must not be negative")
    return args


def read_secret(path):
    with open(path, encoding="utf-8") as f:
        secret = f.read().rstrip("\r\n")
    if not secret:
        raise ValueError("%s is empty" % path)
    return secret


def fail(message):
    sys.stderr.write("graph-standin: %s\n" % message)
    return 1


def main(argv):
    args = parse_args(argv)
    secret = None
    if args.client_secret_file:
        try:
            secret = read_secret(args.client_secret_file)
        except (OSError, ValueError) as e:
            return fail("cannot read --client-secret-file: %s" % e)
    client_certificate = None
    if args.client_certificate:
        try:
            client_certificate = RegisteredCertificate(args.client_certificate)
        except (OSError, KeyError, ValueError) as e:
            return fail("cannot load --client-certificate %s: %s" % (args.client_certificate, e))
    try:
        ctx = make_ssl_context(args.cert, args.key)
    except (OSError, ssl.SSLError) as e:
        # load_cert_chain's errors do not say which file; name both.
        return fail("cannot load --cert %s / --key %s: %s" % (args.cert, args.key, e))
    try:
        state = State(args, secret, client_certificate)
    except OSError as e:
        return fail("cannot open --log: %s" % e)

    if args.port_file:
        # A stale file from an earlier run must not be mistaken for this run's port.
        try:
            os.unlink(args.port_file)
        except FileNotFoundError:
            pass

    handler = type("ConfiguredHandler", (Handler,), {"timeout": args.idle_timeout})
    try:
        server = StandinServer((args.listen, args.port), handler, ctx, state)
    except OSError as e:
        return fail("cannot listen on %s:%d: %s" % (args.listen, args.port, e))
    port = server.server_port
    mi_server = None
    if args.mi_port_file:
        try:
            mi_server = MiServer((args.mi_listen, 0), state)
        except OSError as e:
            return fail("cannot listen on %s for the managed identity endpoint: %s" % (args.mi_listen, e))
        write_port_file(args.mi_port_file, mi_server.server_port)
        threading.Thread(target=mi_server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    if args.port_file:
        write_port_file(args.port_file, port)
    if args.verbose:
        sys.stderr.write("graph-standin: listening on https://%s:%d\n" % (args.listen, port))

    # serve_forever runs in a thread so the main thread is free to take the signal and call
    # shutdown(), which would deadlock if called from the serving thread itself.
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    serving.start()
    while not stop.wait(0.5):
        if not serving.is_alive():
            break
    server.shutdown()
    server.server_close()
    if mi_server:
        mi_server.shutdown()
        mi_server.server_close()
    if state.log_file:
        state.log_file.close()
    if args.port_file:
        try:
            os.unlink(args.port_file)
        except FileNotFoundError:
            pass
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    # Skip interpreter finalization: handler threads may still sit in latency sleeps, and a
    # second SIGTERM arriving during finalization (handlers already reset) would turn a clean
    # exit into "killed by signal".
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
