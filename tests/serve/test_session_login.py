"""Browser sessions against the app as ``acie serve`` builds it: sign-in, cookies, CSRF.

Accounts are made through ``acie admin user add`` (Typer's runner) or
:func:`acie.store.users.add_user` on the server's own database.
"""

from __future__ import annotations

import threading

import httpx
import pytest
from typer.testing import CliRunner

PASSWORD = "correct horse battery"


@pytest.fixture
def accounts(server):
    """The live server plus ``add(name, role)`` and ``disable(name)`` on its database."""
    from acie.store.database import create_engine_for
    from acie.store.users import add_user, disable_user

    engine = create_engine_for(server.runtime.settings.database_url)

    class Accounts:
        srv = server

        @staticmethod
        def add(name, role="researcher"):
            add_user(engine, name, PASSWORD, role)

        @staticmethod
        def disable(name):
            disable_user(engine, name)

    yield Accounts
    engine.dispose()


def _login(c, name, password=PASSWORD, form=False):
    data = {"username": name, "password": password}
    if form:
        return c.post("/v1/session/login", data=data)
    return c.post("/v1/session/login", json=data)


def test_cli_user_add_list_disable(tmp_path, monkeypatch):
    from acie.cli.main import app

    url = f"sqlite:///{tmp_path / 'u.sqlite3'}"
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "admin",
            "user",
            "add",
            "ann",
            "--role",
            "collaborator",
            "--password-file",
            str(pw),
            "--url",
            url,
        ],
    )
    assert r.exit_code == 0, r.output
    again = runner.invoke(
        app, ["admin", "user", "add", "ann", "--password-file", str(pw), "--url", url]
    )
    assert again.exit_code == 2
    assert "exists already" in again.output
    bad = runner.invoke(
        app,
        ["admin", "user", "add", "bob", "--role", "root", "--password-file", str(pw), "--url", url],
    )
    assert bad.exit_code == 2
    assert "'root'" in bad.output
    r = runner.invoke(app, ["admin", "user", "disable", "ann", "--url", url])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["admin", "user", "list", "--json", "--url", url])
    assert r.exit_code == 0, r.output
    import json

    (user,) = json.loads(r.output)["users"]
    assert (user["username"], user["role"], user["disabled"]) == ("ann", "collaborator", True)
    # the hash is argon2id and the password is not stored
    from sqlalchemy import text

    from acie.store.database import create_engine_for

    eng = create_engine_for(url)
    with eng.connect() as conn:
        stored = conn.execute(text("select password_hash from users")).scalar_one()
    eng.dispose()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_login_cookies_whoami_refresh_logout(accounts):
    accounts.add("alice", "collaborator")
    with httpx.Client(base_url=accounts.srv.http_url) as c:
        r = _login(c, "alice", form=True)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["username"] == "alice"
        assert body["role"] == "collaborator"
        assert body["actions"] == ["read"]  # the UI offers no counterfactual submission
        cookies = r.headers.get_list("set-cookie")
        access = next(h for h in cookies if h.startswith("acie_access="))
        csrf = next(h for h in cookies if h.startswith("acie_csrf="))
        refresh = next(h for h in cookies if h.startswith("acie_refresh="))
        for h in (access, refresh, csrf):
            assert "samesite=strict" in h.lower()
            assert "secure" not in h.lower().split(";")[1:]  # plain HTTP: not Secure
        assert "httponly" in access.lower()
        assert "httponly" in refresh.lower()
        assert "httponly" not in csrf.lower()
        assert "path=/v1/session" in refresh.lower()
        assert c.cookies["acie_csrf"] == body["csrf_token"]

        who = c.get("/v1/session")
        assert who.status_code == 200
        assert who.json()["role"] == "collaborator"
        old_access = c.cookies["acie_access"]

        # unsafe method with the cookie but without the header: refused
        no_csrf = c.post("/v1/session/refresh")
        assert no_csrf.status_code == 403
        assert "X-CSRF-Token" in no_csrf.json()["error"]["message"]
        wrong = c.post("/v1/session/refresh", headers={"X-CSRF-Token": "nope"})
        assert wrong.status_code == 403

        r = c.post("/v1/session/refresh", headers={"X-CSRF-Token": c.cookies["acie_csrf"]})
        assert r.status_code == 200, r.text
        assert c.cookies["acie_access"] != old_access
        assert c.get("/v1/session").status_code == 200

        r = c.post("/v1/session/logout", headers={"X-CSRF-Token": c.cookies["acie_csrf"]})
        assert r.status_code == 204
        assert "acie_access" not in c.cookies
        assert c.get("/v1/session").status_code == 401


def test_refresh_token_is_single_use_and_not_an_access_token(accounts):
    accounts.add("rita")
    with httpx.Client(base_url=accounts.srv.http_url) as c:
        assert _login(c, "rita").status_code == 200
        csrf = c.cookies["acie_csrf"]
        refresh_token = c.cookies.get("acie_refresh", path="/v1/session")
        assert c.post("/v1/session/refresh", headers={"X-CSRF-Token": csrf}).status_code == 200
    with httpx.Client(base_url=accounts.srv.http_url) as c:
        c.cookies.set("acie_refresh", refresh_token, path="/v1/session")
        c.cookies.set("acie_csrf", "t")
        replay = c.post("/v1/session/refresh", headers={"X-CSRF-Token": "t"})
        assert replay.status_code == 401
        assert "signed out" in replay.json()["error"]["message"]
        c.cookies.set("acie_access", refresh_token)
        assert c.get("/v1/session").status_code == 401


def test_csrf_guards_cookie_posts_but_bearer_clients_are_unchanged(accounts, token):
    accounts.add("carl")
    with httpx.Client(base_url=accounts.srv.http_url) as c:
        assert _login(c, "carl").status_code == 200
        # a bearer token needs no CSRF header, cookie or not
        r = c.get("/v1/session", headers={"Authorization": f"Bearer {token('api-user')}"})
        assert r.status_code == 200
        assert r.json()["username"] == "api-user"
        assert r.json()["actions"] == ["submit", "read"]
        r = c.get("/v1/models", headers={"Authorization": f"Bearer {token('api-user')}"})
        assert r.status_code == 200


def test_disabled_user_cannot_sign_in_and_session_stops(accounts):
    accounts.add("dora")
    with httpx.Client(base_url=accounts.srv.http_url) as c:
        assert _login(c, "dora").status_code == 200
        assert c.get("/v1/session").status_code == 200
        accounts.disable("dora")
        r = c.get("/v1/session")
        assert r.status_code == 401
        assert "disabled" in r.json()["error"]["message"]
        r = c.post("/v1/session/refresh", headers={"X-CSRF-Token": c.cookies["acie_csrf"]})
        assert r.status_code == 401
    with httpx.Client(base_url=accounts.srv.http_url) as c:
        assert _login(c, "dora").status_code == 401


def test_wrong_password_and_unknown_user_look_the_same(accounts):
    accounts.add("erin")
    with httpx.Client(base_url=accounts.srv.http_url) as c:
        wrong = _login(c, "erin", "not the password")
        unknown = _login(c, "nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    a, b = wrong.json()["error"], unknown.json()["error"]
    assert (a["code"], a["message"]) == (b["code"], b["message"])
    assert set(a) == set(b)
    assert "set-cookie" not in wrong.headers
    assert "set-cookie" not in unknown.headers


def test_failed_logins_are_limited_per_user_and_audited(server_factory):
    from acie.store.database import create_engine_for
    from acie.store.users import add_user

    srv = server_factory(LOGIN_FAILURES_PER_USER_PER_MINUTE=3)
    engine = create_engine_for(srv.runtime.settings.database_url)
    add_user(engine, "fred", PASSWORD)
    with httpx.Client(base_url=srv.http_url) as c:
        codes = [_login(c, "fred", f"guess-{i}-xx").status_code for i in range(4)]
        assert codes == [401, 401, 401, 429]
        # the right password is refused as well while the user's bucket is empty
        assert _login(c, "fred").status_code == 429
        # another user from the same address is not affected by fred's bucket
        add_user(engine, "gina", PASSWORD)
        assert _login(c, "gina").status_code == 200
    srv.runtime.audit.close()  # flush aggregated refusals
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(
            text("select action from inference_logs where action like '%session/login%'")
        ).fetchall()
    engine.dispose()
    assert rows, "refused sign-ins are audited"


def test_login_validation(server):
    with httpx.Client(base_url=server.http_url) as c:
        assert (
            c.post(
                "/v1/session/login", content=b"x", headers={"content-type": "text/plain"}
            ).status_code
            == 400
        )
        assert c.post("/v1/session/login", json={"username": "a"}).status_code == 400
        assert c.post("/v1/session/login", json=["a"]).status_code == 400


def test_cookies_are_secure_over_tls(tiny_engine, settings_factory, pki):
    import ssl

    from acie.serve.server import Server, build_runtime
    from acie.serve.tls import TlsConfig
    from acie.store.database import create_engine_for
    from acie.store.users import add_user

    tls = TlsConfig(certificate_chain=pki["server_cert"], private_key=pki["server_key"])
    rt = build_runtime(settings_factory(), model=tiny_engine)
    srv = Server(rt, http_tls=tls).start()
    try:
        engine = create_engine_for(rt.settings.database_url)
        add_user(engine, "tess", PASSWORD)
        engine.dispose()
        ctx = ssl.create_default_context(cadata=pki["ca"].decode())
        with httpx.Client(base_url=srv.http_url, verify=ctx) as c:
            r = _login(c, "tess")
            assert r.status_code == 200, r.text
            cookies = r.headers.get_list("set-cookie")
            assert len(cookies) == 3
            for h in cookies:
                attrs = [a.strip().lower() for a in h.split(";")[1:]]
                assert "secure" in attrs, h
                assert "samesite=strict" in attrs, h
            assert c.get("/v1/session").status_code == 200
    finally:
        srv.stop(grace_s=0.5)


def test_failed_logins_are_limited_per_address(server_factory):
    srv = server_factory(AUTH_FAILURES_PER_MINUTE=2)
    with httpx.Client(base_url=srv.http_url) as c:
        codes = [_login(c, f"someone-{i}", "guess-guess").status_code for i in range(3)]
    assert codes == [401, 401, 429]


def test_sign_in_spends_one_verification_whoever_asks(tmp_path, monkeypatch):
    """Unknown user, wrong password, disabled account and success: one argon2 verify each
    (the dummy hash stands in for a missing user), so the work does not tell them apart."""
    from acie.store import users
    from acie.store.database import create_engine_for, migrate

    url = f"sqlite:///{tmp_path / 'u.sqlite3'}"
    engine = create_engine_for(url)
    migrate(url, engine=engine)
    users.add_user(engine, "ivy", PASSWORD)
    users.add_user(engine, "jon", PASSWORD)
    users.disable_user(engine, "jon")
    hasher = users._hasher()
    calls = []
    real = type(hasher).verify

    me = threading.get_ident()

    def counting(self, hash_, password):
        if threading.get_ident() == me:  # not a server thread another test left running
            calls.append(hash_.split("$")[1])
        return real(self, hash_, password)

    monkeypatch.setattr(type(hasher), "verify", counting)
    assert users.check_password(engine, "nobody", PASSWORD) is None
    assert users.check_password(engine, "ivy", "wrong password") is None
    assert users.check_password(engine, "jon", PASSWORD) is None
    assert users.check_password(engine, "ivy", PASSWORD) == "researcher"
    engine.dispose()
    assert calls == ["argon2id"] * 4
