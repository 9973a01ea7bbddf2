"""Mailboxes: each account's folders and latest messages over IMAP (imapclient), or from the Maildirs
on disk when the console has no password for an account. No Textual here."""
