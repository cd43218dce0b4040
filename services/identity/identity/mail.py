"""Sending mail: SMTP when configured (STARTTLS and login from settings), otherwise
a development outbox folder of .eml files that `make run` points to.

Messages are sent after the transaction that caused them commits; a failure to
send is logged (without the message) and never changes what the page says, so
mail cannot reveal whether an account exists.
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from email.message import EmailMessage
from pathlib import Path

import anyio.to_thread

from identity.settings import Settings

log = logging.getLogger(__name__)


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _message(self, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = f"<{uuid.uuid4()}@tinpass>"
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
