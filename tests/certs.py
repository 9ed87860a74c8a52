"""Throwaway certificates for the TLS tests, made with the `openssl` command: a self-signed CA, and
server certificates it signs for 127.0.0.1 and localhost."""

import subprocess


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def certificate_authority(directory, name):
    """A self-signed CA in DIRECTORY/NAME.{crt,key}."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=directory)
    return directory / f"{name}.crt"


def server_certificate(directory, ca, name="server", hosts=()):
    """NAME.{crt,key} for IP 127.0.0.1, DNS localhost and any of HOSTS, signed by CA (the name of a
    certificate_authority in DIRECTORY); returns (certificate, key)."""
    names = ", ".join(["IP:127.0.0.1", "DNS:localhost", *(f"DNS:{h}" for h in hosts)])
    (directory / f"{name}.cnf").write_text(f"subjectAltName = {names}\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=directory)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.cnf", "-out", f"{name}.crt",
            cwd=directory)
    return directory / f"{name}.crt", directory / f"{name}.key"
