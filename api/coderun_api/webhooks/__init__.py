"""Signed webhooks: the final result POSTed to a job's callbackUrl (docs/webhooks.md).

signing: Standard Webhooks signatures; ssrf: which callback addresses may be reached and
the connection to the checked one; store: secrets and deliveries in the database;
delivery: the sender that claims due deliveries and POSTs them.
"""
