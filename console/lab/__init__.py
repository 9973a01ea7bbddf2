"""The lab: the article's real mail stack (OpenSMTPD, Dovecot, fdm; with filters ClamAV and spampd)
rendered from config_samples into one directory and run under supervisord, for demos and tests."""
