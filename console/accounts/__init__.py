"""The four account tables (vdomains, vusers, addrs, userdb) as one model, its checks and changes,
and the DNS records each domain needs."""
