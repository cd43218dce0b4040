"""Sending mail: SMTP when configured (STARTTLS and login from settings), otherwise
a development outbox folder of .eml files that `make run` points to. Every message
carries a `Date:` (when it was made, in UTC) and a `Message-ID:` in the sender's domain.

Messages are sent after the transaction that caused them commits; a failure to
send is logged (without the message) and never changes what the page says, so
mail cannot reveal whether an account exists.

Subjects are fixed text: nothing a tenant chose (an organization's or a person's
name) is ever put in a subject, where a crafted name would read as TINpass's own
words. In a body such text appears only through `quoted`, on one line, in
quotation marks, and labelled as the name the organization gave.
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

import anyio.to_thread

from identity.settings import Settings

log = logging.getLogger(__name__)
QUOTED_LENGTH = 200


def quoted(text: str) -> str:
    """Tenant-chosen text for a mail body: one line, bounded, in quotation marks."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(flat) > QUOTED_LENGTH:
        flat = flat[: QUOTED_LENGTH - 1] + "…"
    return f"“{flat}”"


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Message-IDs end in the sender's domain (not this host's name, which
        # make_msgid would otherwise look up and reveal)
        self._domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "tinpass"

    def _message(self, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)  # RFC 5322 §3.6: origination date required
        message["Message-ID"] = make_msgid(domain=self._domain)
        message.set_content(body)
        return message

    async def send(self, to: str, subject: str, body: str) -> None:
        message = self._message(to, subject, body)
        try:
            await anyio.to_thread.run_sync(self._deliver, message)
        except (OSError, smtplib.SMTPException) as error:
            log.warning("mail to a user could not be sent: %s", type(error).__name__)

    def _deliver(self, message: EmailMessage) -> None:
        settings = self.settings
        if not settings.smtp_host:
            outbox = Path(settings.outbox_dir)
            outbox.mkdir(parents=True, exist_ok=True)
            (outbox / f"{uuid.uuid4()}.eml").write_bytes(message.as_bytes())
            return
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username and settings.smtp_password:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(message)
