"""Outgoing mail is a complete RFC 5322 message: a `Date:` and a `Message-ID:` on
every message, whether it goes to an SMTP server or to the development outbox."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import Path

from identity.mail import Mailer
from identity.settings import Settings
from tests.support.smtp import smtp_server

FROM = "TINpass <no-reply@mail.tinpass.example>"


def assert_dated_and_identified(message: Message, sent_after: datetime) -> None:
    assert message["Date"], message.keys()
    date = parsedate_to_datetime(message["Date"])
    assert date.tzinfo is not None and date.utcoffset() == timedelta(0)
    # the header has whole seconds: the message was dated at or after the call began
    assert sent_after.replace(microsecond=0) <= date <= datetime.now(UTC)
    message_id = message["Message-ID"]
    assert message_id.startswith("<") and message_id.endswith("@mail.tinpass.example>")


async def test_mail_sent_by_smtp_has_a_date_and_a_message_id() -> None:
    with smtp_server() as (inbox, port):
        settings = Settings(
            environment="test",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_starttls=False,
            mail_from=FROM,
        )
        before = datetime.now(UTC)
        mailer = Mailer(settings)
        await mailer.send("pat@example.org", "Your TINpass account", "Hello.")
        await mailer.send("pat@example.org", "Your TINpass account", "Hello again.")
    first, second = inbox.to("pat@example.org")
    assert_dated_and_identified(first, before)
    assert_dated_and_identified(second, before)
    assert first["Message-ID"] != second["Message-ID"]


async def test_mail_in_the_outbox_has_a_date_and_a_message_id(tmp_path: Path) -> None:
    settings = Settings(environment="test", outbox_dir=str(tmp_path), mail_from=FROM)
    before = datetime.now(UTC)
    await Mailer(settings).send("pat@example.org", "Your TINpass account", "Hello.")
    (eml,) = tmp_path.glob("*.eml")
    assert_dated_and_identified(email.message_from_bytes(eml.read_bytes()), before)
