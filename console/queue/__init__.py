"""OpenSMTPD's queue: run smtpctl, parse what it prints, summarise, tell a message's story, act on it."""
