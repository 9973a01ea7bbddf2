import smtplib
import sys
from email.message import EmailMessage


def send(sender, rcpts, subject="test", body="hello\n"):
    m = EmailMessage()
    m["From"] = sender or "mailer-daemon@lab.test"
    m["To"] = ", ".join(rcpts)
    m["Subject"] = subject
    m.set_content(body)
    with smtplib.SMTP("127.0.0.1", 21025, timeout=10) as s:
        s.send_message(m, from_addr=sender, to_addrs=rcpts)


if __name__ == "__main__":
    send(sys.argv[1], sys.argv[3:], subject=sys.argv[2])
