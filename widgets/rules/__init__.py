"""The Rules screen: `view` (fdm.conf, its findings and the live route), `editor`, `dialogs`."""
