#!/usr/bin/env python3
"""A real SMTP server on loopback for Kernia's mail tests (Debian: python3-aiosmtpd).

Every message it accepts is appended to --out as one JSON line:
  {"mail_from", "rcpt_tos", "from", "to", "subject", "text", "tls", "auth_user"}
where "text" is the decoded plain-text body. Prints "listening PORT" once it accepts
connections (port 0 = a free one).

  smtp_sink.py --out mails.jsonl                               plain SMTP
  smtp_sink.py --out m --tls-cert c.pem --tls-key k.pem \\
               --require-starttls --auth user:secret           STARTTLS + AUTH required
  smtp_sink.py --out m --tls-cert c.pem --tls-key k.pem --implicit-tls   SMTPS
  smtp_sink.py --out m --refuse-rcpt a@example.com             550 for that recipient
"""
import argparse
import asyncio
import email
import email.policy
import json
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--require-starttls", action="store_true")
    parser.add_argument("--auth", help="USER:PASSWORD; AUTH becomes required")
    parser.add_argument("--refuse-rcpt", action="append", default=[],
                        help="answer RCPT TO for this address with 550 (repeatable)")
    args = parser.parse_args()

    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    user, password = (args.auth.split(":", 1) if args.auth else (None, None))

    refused = {address.lower() for address in args.refuse_rcpt}

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.lower() in refused:
                return "550 5.1.1 mailbox unavailable"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            message = email.message_from_bytes(envelope.original_content or envelope.content,
                                               policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            record = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "from": str(message["From"]),
                "to": str(message["To"]),
                "subject": str(message["Subject"]),
                "text": body.get_content() if body is not None else "",
                "tls": session.ssl is not None or args.implicit_tls,
                "auth_user": session.auth_data if session.authenticated else None,
            }
            with open(args.out, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
                f.flush()
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and user is not None
              and auth_data.login == user.encode() and auth_data.password == password.encode())
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

    def factory():
        return SMTP(Handler(),
                    hostname="kernia-test-smtp",
                    tls_context=None if args.implicit_tls else context,
                    require_starttls=args.require_starttls,
                    auth_required=bool(args.auth),
                    auth_require_tls=True,
                    authenticator=authenticator if args.auth else None)

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(factory, host="127.0.0.1", port=args.port,
                                          ssl=context if args.implicit_tls else None)
        print("listening", server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
