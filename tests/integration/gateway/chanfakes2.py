"""chanfakes2 - fakes of the IRC and e-mail channels for claw-gateway's
integration tests (stdlib and the openssl command line only).

TestCA     a throw-away CA and a server certificate for 127.0.0.1 made with
           the openssl command line in a temporary directory.
FakeIRC    an IRC server over TLS (RFC 1459/2812 with IRCv3 CAP 302, SASL
           PLAIN and message tags) that one bot connects to: it answers
           CAP LS (in two lines, the continuation form), CAP REQ,
           AUTHENTICATE PLAIN (numerics 900/903, or 904 on a wrong
           password), registers after CAP END (001-005), JOIN, PING/PONG;
           it records every line the bot sends with its arrival time, and
           delivers PRIVMSGs from users to the bot (say()). It checks what
           a server checks: no command other than CAP, AUTHENTICATE, NICK,
           USER, PING, PONG, QUIT before registration, no line over 512
           bytes as it relays it (with the ":nick!~user@host " prefix it
           adds; its host is 63 bytes, the longest the gateway allows
           for), no CR, LF or NUL inside a line; violations go to errors.
"""

import base64
import email
import email.policy
import os
import re
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time

HOST63 = ("h" * 54) + ".irc.test"   # a 63-byte host for our prefix
assert len(HOST63) == 63


class TestCA:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="claw-ca-")
        self.ca = os.path.join(self.dir, "ca.pem")
        self.cert = os.path.join(self.dir, "server.pem")
        self.key = os.path.join(self.dir, "server.key")
        d = self.dir
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes"]
        run = lambda *a: subprocess.run(  # noqa: E731
            ["openssl"] + list(a), check=True, capture_output=True)
        run("req", "-x509", *ec, "-keyout", os.path.join(d, "ca.key"),
            "-out", self.ca, "-days", "2", "-subj", "/CN=claw test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        run("req", *ec, "-keyout", self.key, "-out",
            os.path.join(d, "server.csr"), "-subj", "/CN=127.0.0.1")
        ext = os.path.join(d, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "extendedKeyUsage=serverAuth\n")
        run("x509", "-req", "-in", os.path.join(d, "server.csr"), "-CA",
            self.ca, "-CAkey", os.path.join(d, "ca.key"),
            "-CAcreateserial", "-out", self.cert, "-days", "2",
            "-extfile", ext)


class _TLSServer:
    """Accept TLS connections on 127.0.0.1; serve(conn, rfile) each."""

    def __init__(self, ca):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(ca.cert, ca.key)
        self.lock = threading.Condition()
        self.errors = []
        self.closed = False
        self.socks = []
        owner = self

        class H(socketserver.BaseRequestHandler):
            def handle(self):
                owner._conn(self.request)

        class S(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = S(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]

    def start(self):
        """Accept connections (the subclass is set up)."""
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def handshake_failed(self):
        pass

    def _conn(self, raw):
        try:
            raw.settimeout(10)
            s = self.ctx.wrap_socket(raw, server_side=True)
            s.settimeout(None)
        except (OSError, ssl.SSLError):
            raw.close()
            self.handshake_failed()
            return
        with self.lock:
            self.socks.append(s)
        try:
            f = s.makefile("rb")
            try:
                self.serve(s, f)
            finally:
                f.close()
                s.close()
        except (OSError, ssl.SSLError, ValueError):
            pass

    def close(self):
        self.closed = True
        self.srv.shutdown()
        self.srv.server_close()
        with self.lock:
            socks = list(self.socks)
        for sk in socks:
            try:
                sk.close()
            except OSError:
                pass


class _Client:
    def __init__(self, sock, n):
        self.sock = sock
        self.n = n          # the connection's number (0 first)
        self.nick = None
        self.user = None
        self.caps = False   # inside CAP negotiation
        self.authed = False
        self.registered = False
        self.wlock = threading.Lock()

    def send(self, line):
        with self.wlock:
            try:
                self.sock.sendall(line.encode() + b"\r\n")
            except OSError:
                pass


class FakeIRC(_TLSServer):
    def __init__(self, ca, login, password, offer_sasl=True):
        super().__init__(ca)
        self.login = login
        self.password = password
        self.offer_sasl = offer_sasl
        self.connects = 0
        self.auth = []          # (login, ok) per AUTHENTICATE
        self.lines = []         # (conn, monotonic time, line) from the bot
        self.joined = []
        self.clients = []
        self.server = "127.0.0.1:%d" % self.port
        self.start()

    # ------------------------------------------------------------ server
    def handshake_failed(self):
        with self.lock:
            self.connects += 1   # a refused handshake counts too
            self.lock.notify_all()

    def serve(self, s, f):
        with self.lock:
            c = _Client(s, self.connects)
            self.connects += 1
            self.clients.append(c)
            self.lock.notify_all()
        for raw in iter(f.readline, b""):
            if not self._line(c, raw.rstrip(b"\r\n")):
                return

    def _error(self, why):
        with self.lock:
            self.errors.append(why)

    def _line(self, c, raw):
        if b"\n" in raw or b"\r" in raw or b"\0" in raw:
            self._error("CR, LF or NUL inside a line")
        line = raw.decode("utf-8", "replace")
        with self.lock:
            self.lines.append((c.n, time.monotonic(), line))
            self.lock.notify_all()
        words = line.split(" ")
        cmd = words[0].upper()
        if cmd not in ("CAP", "AUTHENTICATE", "NICK", "USER", "PING",
                       "PONG", "QUIT") and not c.registered:
            self._error("%s before registration" % cmd)
        me = c.nick or "*"
        if cmd == "CAP" and words[1:3] == ["LS", "302"]:
            c.caps = True
            c.send(":irc.test CAP * LS * :multi-prefix message-tags")
            c.send(":irc.test CAP * LS :account-tag %s" % (
                "sasl=PLAIN,EXTERNAL" if self.offer_sasl else "chghost"))
        elif cmd == "CAP" and words[1] == "REQ":
            ok = self.offer_sasl and line.endswith(":sasl")
            c.send(":irc.test CAP %s %s :sasl" % (me, "ACK" if ok else
                                                  "NAK"))
        elif cmd == "CAP" and words[1] == "END":
            c.caps = False
            self._maybe_register(c)
        elif cmd == "AUTHENTICATE" and words[1] == "PLAIN":
            c.send("AUTHENTICATE +")
        elif cmd == "AUTHENTICATE":
            try:
                authz, authc, pw = base64.b64decode(
                    words[1], validate=True).split(b"\0")
                ok = (authc.decode() == self.login and
                      pw.decode() == self.password and
                      authz in (b"", authc))
            except ValueError:
                authc, ok = b"?", False
            with self.lock:
                self.auth.append((authc.decode("utf-8", "replace"), ok))
            if ok:
                c.authed = True
                c.send(":irc.test 900 %s %s!%s@%s %s :You are now logged "
                       "in as %s" % (me, me, c.user, HOST63, self.login,
                                     self.login))
                c.send(":irc.test 903 %s :SASL authentication successful"
                       % me)
            else:
                c.send(":irc.test 904 %s :SASL authentication failed" % me)
        elif cmd == "NICK":
            c.nick = words[1].lstrip(":")
            self._maybe_register(c)
        elif cmd == "USER":
            c.user = words[1]
            self._maybe_register(c)
        elif cmd == "JOIN":
            for ch in words[1].split(","):
                with self.lock:
                    self.joined.append(ch)
                c.send(":%s!~%s@%s JOIN %s" % (c.nick, c.user, HOST63, ch))
        elif cmd == "PING":
            c.send(":irc.test PONG irc.test :%s" % line.split(":", 1)[-1])
        elif cmd == "PRIVMSG":
            relayed = ":%s!~%s@%s %s\r\n" % (c.nick, c.user, HOST63, line)
            if len(relayed.encode()) > 512:
                self._error("a line of %d bytes as relayed" %
                            len(relayed.encode()))
        elif cmd == "QUIT":
            c.send("ERROR :Closing link (%s)" % (c.nick or "*"))
            return False
        return True

    def _maybe_register(self, c):
        if c.registered or c.caps or not c.nick or not c.user:
            return
        if not c.authed:
            # this network requires SASL
            c.send("ERROR :Closing link: SASL authentication required")
            return
        c.registered = True
        n = c.nick
        c.send(":irc.test 001 %s :Welcome to the Test IRC Network %s!~%s@%s"
               % (n, n, c.user, HOST63))
        c.send(":irc.test 002 %s :Your host is irc.test" % n)
        c.send(":irc.test 003 %s :This server was created today" % n)
        c.send(":irc.test 004 %s irc.test fake-1.0 iow ntk" % n)
        c.send(":irc.test 005 %s CASEMAPPING=rfc1459 CHANTYPES=#& "
               "NICKLEN=30 :are supported by this server" % n)
        with self.lock:
            self.lock.notify_all()

    # -------------------------------------------------------------- tests
    def bot(self):
        """The registered bot's connection (the newest), or None."""
        with self.lock:
            live = [c for c in self.clients if c.registered]
            return live[-1] if live else None

    def registered(self):
        return self.bot() is not None

    def say(self, nick, target, text, tags=None):
        """A user's PRIVMSG as the server relays it to the bot."""
        c = self.bot()
        assert c, "no bot connected"
        pre = ""
        if tags:
            pre = "@" + ";".join("%s=%s" % kv for kv in tags.items()) + " "
        c.send("%s:%s!%s@users.irc.test PRIVMSG %s :%s" % (
            pre, nick, nick.lower(), target, text))

    def privmsgs(self, target):
        """(time, text) of the bot's PRIVMSGs to target, in order."""
        out = []
        with self.lock:
            for _, t, line in self.lines:
                w = line.split(" ", 2)
                if len(w) == 3 and w[0] == "PRIVMSG" and w[1] == target:
                    out.append((t, w[2][1:] if w[2].startswith(":")
                                else w[2]))
        return out

    def replies(self, target):
        return [t for _, t in self.privmsgs(target)]

    def sent(self, cmd):
        with self.lock:
            return [line for _, _, line in self.lines
                    if line.split(" ", 1)[0] == cmd]


# ------------------------------------------------------------------ mail
def _imap_args(text):
    """IMAP atoms and quoted strings."""
    out = []
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"|(\S+)', text):
        if m.group(1) is not None:
            out.append(re.sub(r"\\(.)", r"\1", m.group(1)))
        else:
            out.append(m.group(2))
    return out


class FakeIMAP(_TLSServer):
    def __init__(self, ca, user, password, validity=3857529045):
        super().__init__(ca)
        self.user = user
        self.password = password
        self.validity = validity
        self.msgs = []            # (uid, bytes)
        self.next_uid = 101
        self.commands = []
        self.logins = []          # (user, ok)
        self.url = "imaps://127.0.0.1:%d" % self.port
        self.start()

    def deliver(self, raw):
        with self.lock:
            uid = self.next_uid
            self.next_uid += 1
            self.msgs.append((uid, raw))
            return uid

    def fetched(self):
        with self.lock:
            return [c for c in self.commands if " FETCH " in c.upper()]

    def serve(self, s, f):
        def out(line):
            s.sendall(line.encode() + b"\r\n")
        out("* OK [CAPABILITY IMAP4rev1 LITERAL+] claw test IMAP ready")
        authed = False
        selected = False
        while True:
            line = f.readline()
            if not line:
                return
            line = line.decode("utf-8", "replace").rstrip("\r\n")
            with self.lock:
                self.commands.append(line)
            parts = line.split(" ", 2)
            if len(parts) < 2:
                out("* BAD no tag")
                continue
            tag, cmd = parts[0], parts[1].upper()
            rest = parts[2] if len(parts) > 2 else ""
            if cmd == "CAPABILITY":
                out("* CAPABILITY IMAP4rev1 LITERAL+")
                out(tag + " OK CAPABILITY completed")
            elif cmd == "LOGIN":
                a = _imap_args(rest)
                ok = len(a) == 2 and a[0] == self.user and \
                    a[1] == self.password
                with self.lock:
                    self.logins.append((a[0] if a else "", ok))
                if ok:
                    authed = True
                    out(tag + " OK LOGIN completed")
                else:
                    out(tag + " NO [AUTHENTICATIONFAILED] Invalid "
                        "credentials")
            elif cmd == "LOGOUT":
                out("* BYE logging out")
                out(tag + " OK LOGOUT completed")
                return
            elif cmd == "NOOP":
                out(tag + " OK NOOP completed")
            elif not authed:
                with self.lock:
                    self.errors.append("%s before LOGIN" % cmd)
                out(tag + " BAD not authenticated")
            elif cmd in ("SELECT", "EXAMINE"):
                with self.lock:
                    n, nxt = len(self.msgs), self.next_uid
                selected = True
                out("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
                    "\\Draft)")
                out("* %d EXISTS" % n)
                out("* 0 RECENT")
                out("* OK [UIDVALIDITY %d] UIDs valid" % self.validity)
                out("* OK [UIDNEXT %d] Predicted next UID" % nxt)
                out(tag + " OK [READ-WRITE] %s completed" % cmd)
            elif cmd == "STATUS":
                with self.lock:
                    nxt = self.next_uid
                box = _imap_args(rest)[0]
                out("* STATUS %s (UIDVALIDITY %d UIDNEXT %d)" % (
                    box, self.validity, nxt))
                out(tag + " OK STATUS completed")
            elif cmd == "UID" and rest.upper().startswith("SEARCH UID "):
                if not selected:
                    out(tag + " BAD no mailbox selected")
                    continue
                lo = int(rest.split()[2].split(":")[0])
                with self.lock:
                    uids = [u for u, _ in self.msgs if u >= lo]
                    if not uids and self.msgs:   # n:* holds the last
                        uids = [self.msgs[-1][0]]
                out("* SEARCH" + "".join(" %d" % u for u in uids))
                out(tag + " OK SEARCH completed")
            elif cmd == "UID" and rest.upper().startswith("FETCH "):
                uid = int(rest.split()[1])
                with self.lock:
                    hit = [(i + 1, m) for i, (u, m) in enumerate(self.msgs)
                           if u == uid]
                if hit:
                    seq, m = hit[0]
                    s.sendall(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (
                        seq, uid, len(m)) + m + b")\r\n")
                out(tag + " OK FETCH completed")
            else:
                out(tag + " BAD unknown command")


class FakeSMTP(_TLSServer):
    def __init__(self, ca, user, password):
        super().__init__(ca)
        self.user = user
        self.password = password
        self.mails = []           # (mail_from, [rcpt], email.message)
        self.auths = []
        self.fail_next = 0        # answer DATA with 451 this many times
        self.url = "smtps://127.0.0.1:%d" % self.port
        self.start()

    def to(self, addr):
        with self.lock:
            return [m for f, r, m in self.mails if r == ["<%s>" % addr]]

    def texts(self, addr):
        return [m.get_content().rstrip("\r\n") for m in self.to(addr)]

    def serve(self, s, f):
        def out(line):
            s.sendall(line.encode() + b"\r\n")
        out("220 smtp.bot.test ESMTP claw test")
        authed, frm, rcpt = False, None, []
        while True:
            line = f.readline()
            if not line:
                return
            verb = line.decode("utf-8", "replace").rstrip("\r\n")
            up = verb.upper()
            if up.startswith("EHLO"):
                out("250-smtp.bot.test")
                out("250-AUTH PLAIN LOGIN")
                out("250 8BITMIME")
            elif up.startswith("AUTH PLAIN"):
                ir = verb[11:].strip()
                if not ir:   # no initial response: ask for it
                    out("334 ")
                    ir = f.readline().decode("utf-8", "replace").strip()
                try:
                    z, u, p = base64.b64decode(ir).split(b"\0")
                    ok = u.decode() == self.user and \
                        p.decode() == self.password
                except ValueError:
                    ok = False
                with self.lock:
                    self.auths.append(ok)
                authed = ok
                out("235 2.7.0 Authentication successful" if ok else
                    "535 5.7.8 Authentication credentials invalid")
            elif up.startswith("MAIL FROM:"):
                if not authed:
                    out("530 5.7.0 Authentication required")
                    continue
                frm, rcpt = verb[10:].strip(), []
                out("250 2.1.0 Ok")
            elif up.startswith("RCPT TO:"):
                rcpt.append(verb[8:].strip())
                out("250 2.1.5 Ok")
            elif up == "DATA":
                out("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while True:
                    ln = f.readline()
                    if not ln or ln == b".\r\n":
                        break
                    data += ln[1:] if ln.startswith(b"..") else ln
                with self.lock:
                    if self.fail_next > 0:
                        self.fail_next -= 1
                        out("451 4.3.0 Try again later")
                        continue
                    msg = email.message_from_bytes(
                        data, policy=email.policy.default)
                    self.mails.append((frm, rcpt, msg))
                    self.lock.notify_all()
                out("250 2.0.0 Ok: queued")
            elif up == "QUIT":
                out("221 2.0.0 Bye")
                return
            elif up in ("RSET", "NOOP"):
                out("250 2.0.0 Ok")
            else:
                out("502 5.5.2 Command not recognized")


_mseq = [0]


def mail(frm, subject, text, auth="dkim=pass header.d=example.com; "
         "spf=pass smtp.mailfrom=example.com", authserv="mx.bot.test",
         msgid=None, in_reply_to=None, references=None, extra=(),
         body=None, ctype="text/plain; charset=utf-8", cte="8bit"):
    """A message as the user's server stores it (its Authentication-Results
    on top); body (bytes) replaces the text part when given."""
    _mseq[0] += 1
    msgid = msgid or "<m%d.%d@example.com>" % (_mseq[0], os.getpid())
    h = []
    if auth is not None:
        h.append("Authentication-Results: %s;\r\n\t%s" % (authserv, auth))
    h += ["Received: from mail.example.com by mx.bot.test",
          "From: Ann Example <%s>" % frm, "To: <claw@bot.test>",
          "Subject: %s" % subject, "Date: Sun, 06 Dec 2026 12:00:00 +0000",
          "Message-ID: %s" % msgid, "MIME-Version: 1.0"]
    if in_reply_to:
        h.append("In-Reply-To: %s" % in_reply_to)
    if references:
        h.append("References: %s" % references)
    h += list(extra)
    if body is None:
        h += ["Content-Type: %s" % ctype, "Content-Transfer-Encoding: %s"
              % cte]
        body = text.replace("\n", "\r\n").encode()
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body, msgid
