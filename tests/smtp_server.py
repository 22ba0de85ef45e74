#!/usr/bin/env python3
"""A real SMTP server for the integration tests (aiosmtpd), on 127.0.0.1.

Prints `port N` once it listens. Each accepted message is written to --dir as NNNN.json:
the envelope, and the message as Python's own `email` package parses it (headers decoded,
the text and HTML parts), so the tests judge the desk's mail with an implementation that is
not the code under test. The raw bytes are kept beside it as NNNN.eml.

  --port P            listen on P (0: a free port)
  --reject ADDR       answer RCPT TO:<ADDR> with 550 (repeatable)
  --tempfail ADDR:N   answer RCPT TO:<ADDR> with 451 the first N times (repeatable)
  --stall ADDR        never answer the first message to ADDR after its data (writes a
                      `stalled` file then), as a server that hangs mid-conversation
  --tls MODE          starttls (offer STARTTLS) or smtps (TLS from the first byte), with a
                      certificate for 127.0.0.1 and localhost signed by a certificate
                      authority made for this run; its certificate is written to
                      --dir/ca.pem for the desk to trust (SUPPORTDESK_SMTP_CA_FILE)
  --login USER:PASS   require AUTH with these credentials (over TLS only); each successful
                      login is recorded in --dir/logins
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult


class Handler:
    def __init__(self, out_dir, reject, tempfail, stall):
        self.out_dir = out_dir
        self.stall = {a.lower() for a in stall}
        self.reject = {a.lower() for a in reject}
        self.tempfail = {}
        for spec in tempfail:
            addr, _, times = spec.rpartition(":")
            self.tempfail[addr.lower()] = int(times)
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        key = address.lower()
        if key in self.reject:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if self.tempfail.get(key, 0) > 0:
            self.tempfail[key] -= 1
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        stalled = [a for a in envelope.rcpt_tos if a.lower() in self.stall]
        if stalled:
            self.stall.difference_update(a.lower() for a in stalled)
            with open(os.path.join(self.out_dir, "stalled"), "w") as f:
                f.write(" ".join(stalled))
            await asyncio.sleep(3600)
        self.count += 1
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        headers = {}
        for name, value in msg.items():
            headers.setdefault(name.lower(), []).append(str(value))
        parts = {}
        for part in msg.walk():
            if part.get_content_maintype() == "multipart":
                continue
            parts.setdefault(part.get_content_type(), part.get_content())
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": headers,
            "content_type": msg.get_content_type(),
            "text": parts.get("text/plain"),
            "html": parts.get("text/html"),
            "defects": [type(d).__name__ for d in msg.defects],
        }
        stem = os.path.join(self.out_dir, "%04d" % self.count)
        with open(stem + ".eml", "wb") as f:
            f.write(raw)
        # Written whole, then renamed: a reader never sees half a record.
        with open(stem + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(stem + ".tmp", stem + ".json")
        return "250 Message accepted for delivery"


def make_certificates(out_dir):
    """A certificate authority and a server certificate it signs, for 127.0.0.1 and localhost
    (Python's `cryptography`). Answers the server's (certificate, key) file paths."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "supportdesk test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    with open(os.path.join(out_dir, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    cert_path, key_path = os.path.join(out_dir, "server.pem"), os.path.join(out_dir, "server.key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(pem))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


def authenticator(expected, out_dir):
    user, _, password = expected.partition(":")

    def check(server, session, envelope, mechanism, auth_data):
        ok = (getattr(auth_data, "login", None) == user.encode()
              and getattr(auth_data, "password", None) == password.encode())
        if ok:
            with open(os.path.join(out_dir, "logins"), "a") as f:
                f.write("%s %s\n" % (user, mechanism))
        return AuthResult(success=ok, handled=False)

    return check


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--tempfail", action="append", default=[])
    parser.add_argument("--stall", action="append", default=[])
    parser.add_argument("--tls", choices=["starttls", "smtps"])
    parser.add_argument("--login")
    args = parser.parse_args()
    handler = Handler(args.dir, args.reject, args.tempfail, args.stall)
    loop = asyncio.get_running_loop()
    context = None
    if args.tls:
        # Written outside --dir's message files: the tests list *.json there.
        cert, key = make_certificates(args.dir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    options = {"hostname": "smtp.test"}
    if args.tls == "starttls":
        options.update(tls_context=context, require_starttls=True)
    if args.login:
        options.update(authenticator=authenticator(args.login, args.dir), auth_required=True,
                       # Over smtps the whole connection is TLS, which aiosmtpd does not see.
                       auth_require_tls=args.tls != "smtps")
    server = await loop.create_server(
        lambda: SMTP(handler, **options), "127.0.0.1", args.port,
        ssl=context if args.tls == "smtps" else None,
    )
    port = server.sockets[0].getsockname()[1]
    print("port %d" % port, flush=True)
    # Ends when the test closes our stdin (or kills us).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
