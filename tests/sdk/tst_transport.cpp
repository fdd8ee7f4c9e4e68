// Kernia::Client behind something that is not quite the server: a proxy in front of a real
// kernia-server that answers chosen requests itself, the way a captive portal or a broken
// proxy does (a 302 to a login page, an empty 200, a pull page that never advances). A bad
// answer must be an error the app can see, change nothing locally, and never block the
// client's operation queue. Every wait is bounded.
#include "clientfixture.h"

#include <Kernia/Collection>

#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonArray>
#include <QtCore/QLoggingCategory>
#include <QtCore/QPointer>
#include <QtCore/QRegularExpression>
#include <QtCore/QUrlQuery>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <optional>

using Kernia::Client;
using Kernia::ClientOptions;
using Kernia::Collection;
using Kernia::Error;
using Kernia::User;
using namespace KerniaTest;

namespace {

QString uniqueEmail()
{
    return KerniaTest::uniqueEmail(QLatin1Char('t'));
}

// A reverse proxy to `upstream` (one request per connection, answered with Connection:
// close). A request the override answers never reaches the server.
class FaultyProxy : public QTcpServer
{
public:
    struct Request
    {
        QByteArray method;
        QUrl url;   // path and query, as the client sent them
    };
    // A raw HTTP response to send instead of the server's, or nothing to forward.
    using Override = std::function<std::optional<QByteArray>(const Request &)>;

    explicit FaultyProxy(const QUrl &upstream) : m_upstream(upstream)
    {
        m_nam.setCookieJar(nullptr);
        m_nam.setRedirectPolicy(QNetworkRequest::ManualRedirectPolicy);
        listen(QHostAddress::LocalHost, 0);
    }

    QUrl url() const { return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(serverPort())); }
    void setOverride(Override override) { m_override = std::move(override); }
    // Requests to `path` the override answered.
    int overridden(const QString &path) const { return m_overridden.value(path); }

    static QByteArray response(int status, const QByteArray &reason, const QByteArray &body,
                               const QList<QPair<QByteArray, QByteArray>> &headers = {})
    {
        QByteArray out = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reason + "\r\n";
        for (const auto &h : headers)
            out += h.first + ": " + h.second + "\r\n";
        out += "Content-Length: " + QByteArray::number(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        return out;
    }

protected:
    void incomingConnection(qintptr handle) override
    {
        auto *socket = new QTcpSocket(this);
        socket->setSocketDescriptor(handle);
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        auto buffer = std::make_shared<QByteArray>();
        connect(socket, &QTcpSocket::readyRead, socket, [this, socket, buffer] {
            buffer->append(socket->readAll());
            const qsizetype end = buffer->indexOf("\r\n\r\n");
            if (end < 0)
                return;
            QList<QByteArray> lines = buffer->left(end).split('\n');
            const QList<QByteArray> requestLine = lines.takeFirst().trimmed().split(' ');
            if (requestLine.size() < 2)
                return socket->abort();
            QList<QPair<QByteArray, QByteArray>> headers;
            qsizetype length = 0;
            for (const QByteArray &line : std::as_const(lines)) {
                const qsizetype colon = line.indexOf(':');
                if (colon <= 0)
                    continue;
                const QByteArray name = line.left(colon).trimmed().toLower();
                const QByteArray value = line.mid(colon + 1).trimmed();
                if (name == "content-length")
                    length = value.toLongLong();
                headers.append({ name, value });
            }
            if (buffer->size() < end + 4 + length)
                return;   // the rest of the body is still on its way
            socket->disconnect(this);
            const Request request{ requestLine.at(0), QUrl::fromEncoded(requestLine.at(1)) };
            answer(socket, request, headers, buffer->mid(end + 4, length));
        });
    }

private:
    void answer(QTcpSocket *socket, const Request &request, const QList<QPair<QByteArray, QByteArray>> &headers,
                const QByteArray &body)
    {
        if (m_override) {
            if (const std::optional<QByteArray> canned = m_override(request)) {
                ++m_overridden[request.url.path()];
                socket->write(*canned);
                socket->disconnectFromHost();
                return;
            }
        }
        QUrl target = m_upstream;
        target.setPath(request.url.path());
        target.setQuery(request.url.query(QUrl::FullyEncoded), QUrl::StrictMode);
        QNetworkRequest forward(target);
        forward.setTransferTimeout(20000);
        forward.setAttribute(QNetworkRequest::CookieLoadControlAttribute, QNetworkRequest::Manual);
        forward.setAttribute(QNetworkRequest::CookieSaveControlAttribute, QNetworkRequest::Manual);
        static const QList<QByteArray> hopByHop{ "host", "connection", "content-length", "accept-encoding",
                                                 "keep-alive", "transfer-encoding" };
        for (const auto &h : headers) {
            if (!hopByHop.contains(h.first))
                forward.setRawHeader(h.first, h.second);
        }
        QNetworkReply *reply = m_nam.sendCustomRequest(forward, request.method, body);
        QPointer<QTcpSocket> guard(socket);
        connect(reply, &QNetworkReply::finished, this, [reply, guard] {
            reply->deleteLater();
            if (!guard)
                return;
            const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            QByteArray out;
            if (status == 0) {
                out = response(502, "Bad Gateway", QByteArray());
            } else {
                QList<QPair<QByteArray, QByteArray>> relayed;
                static const QList<QByteArray> dropped{ "connection", "content-length", "content-encoding",
                                                        "keep-alive", "transfer-encoding" };
                for (const auto &h : reply->rawHeaderPairs()) {
                    if (!dropped.contains(h.first.toLower()))
                        relayed.append(h);
                }
                out = response(status, reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toByteArray(),
                                  reply->readAll(), relayed);
            }
            guard->write(out);
            guard->disconnectFromHost();
        });
    }

    QUrl m_upstream;
    QNetworkAccessManager m_nam;
    Override m_override;
    QHash<QString, int> m_overridden;
};

// What a captive portal sends for any request: off to its login page.
std::optional<QByteArray> portalRedirect()
{
    return FaultyProxy::response(302, "Found", QByteArray(),
                                 { { "Location", "http://portal.example/login?continue=1" },
                                   { "Content-Type", "text/html" } });
}

} // namespace

class TestTransport : public QObject
{
    Q_OBJECT

    TestServer m_server;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(!serverBinary().isEmpty(), "KERNIA_SERVER is not set");
        QVERIFY2(m_server.start(), qPrintable(m_server.output()));
        QCOMPARE(probeKeychain(), QKeychain::NoError);
    }

    // A 302 that is not the server's own error redirect (no ?error=) is no answer from the
    // server: deleting the guest fails with BAD_RESPONSE and the guest stays, here and on
    // the server. It used to count as success and discarded the local guest.
    void redirectIsNotSuccess()
    {
        FaultyProxy proxy(m_server.url());
        Install install;
        auto client = makeClient(proxy.url(), install);
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
        const QByteArray token = readToken(install.service).value.toUtf8();
        const User guest = client->user();

        proxy.setOverride([](const FaultyProxy::Request &r) -> std::optional<QByteArray> {
            if (r.url.path() == QLatin1String("/api/auth/delete-anonymous-user")
                || r.url.path() == QLatin1String("/api/auth/sign-in/magic-link"))
                return portalRedirect();
            return std::nullopt;
        });
        const Error e = await(client->deleteGuest());
        QCOMPARE(proxy.overridden(QStringLiteral("/api/auth/delete-anonymous-user")), 1);
        QCOMPARE(e.kind(), Error::Kind::BadResponse);
        QCOMPARE(e.httpStatus(), 302);
        QVERIFY2(e.message().contains(QLatin1String("Redirected to http://portal.example/login")), qPrintable(e.message()));
        QVERIFY2(!e.message().contains(QLatin1String("continue")), "the Location's query is not repeated");
        QCOMPARE(client->state(), Client::State::Guest);
        QCOMPARE(client->user().localId(), guest.localId());
        QCOMPARE(client->user().id(), guest.id());
        QVERIFY(client->hasServerSession());
        QCOMPARE(readToken(install.service).value.toUtf8(), token);
        const RawReply session = rawRequest("GET", api(m_server.url(), QStringLiteral("/get-session")), {}, token);
        QCOMPARE(session.status, 200);
        QVERIFY(session.body.isObject());   // the server still has the guest

        // The same for a call whose answer carries nothing the client checks.
        const Error mail = await(client->requestMagicLink(uniqueEmail()));
        QCOMPARE(mail.kind(), Error::Kind::BadResponse);
        QCOMPARE(mail.httpStatus(), 302);

        // The server's own error redirect is still its refusal, with its code.
        proxy.setOverride([](const FaultyProxy::Request &r) -> std::optional<QByteArray> {
            if (r.url.path() == QLatin1String("/api/auth/delete-anonymous-user"))
                return FaultyProxy::response(302, "Found", QByteArray(), { { "Location", "/?error=not_allowed" } });
            return std::nullopt;
        });
        const Error refused = await(client->deleteGuest());
        QCOMPARE(refused.kind(), Error::Kind::Rejected);
        QCOMPARE(refused.code(), QStringLiteral("NOT_ALLOWED"));
        QCOMPARE(client->state(), Client::State::Guest);

        // With the server's own answer, the guest goes.
        proxy.setOverride(nullptr);
        QCOMPARE(await(client->deleteGuest()), Error());
        QCOMPARE(client->state(), Client::State::SignedOut);
        QVERIFY(rawRequest("GET", api(m_server.url(), QStringLiteral("/get-session")), {}, token).body.isNull());
    }

    // Only the server's literal `null` means "no session". An empty 200 from get-session
    // (a proxy) is BAD_RESPONSE and changes nothing: the guest is kept at start-up, an
    // account stays signed in. It used to count as "session gone".
    void emptyAnswerIsNotNoSession()
    {
        FaultyProxy proxy(m_server.url());
        Install install;
        User guest;
        {
            auto first = makeClient(proxy.url(), install);
            QTRY_VERIFY_WITH_TIMEOUT(first->hasServerSession(), Long);
            QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
            guest = first->user();
        }
        QByteArray emptyBody;
        proxy.setOverride([&emptyBody](const FaultyProxy::Request &r) -> std::optional<QByteArray> {
            if (r.url.path() == QLatin1String("/api/auth/get-session"))
                return FaultyProxy::response(200, "OK", emptyBody, { { "Content-Type", "application/json" } });
            return std::nullopt;
        });

        // Restart: the start-up session check gets the empty 200.
        auto client = makeClient(proxy.url(), install);
        QSignalSpy lost(client.get(), &Client::sessionLost);
        QTRY_VERIFY_WITH_TIMEOUT(proxy.overridden(QStringLiteral("/api/auth/get-session")) >= 1, Long);
        QTRY_COMPARE_WITH_TIMEOUT(client->lastError().code(), QStringLiteral("BAD_RESPONSE"), Long);
        QCOMPARE(lost.count(), 0);
        QCOMPARE(client->state(), Client::State::Guest);
        QCOMPARE(client->user().localId(), guest.localId());
        QCOMPARE(client->user().id(), guest.id());
        QVERIFY(client->hasServerSession());

        // Asked explicitly, with only white space in the body.
        emptyBody = " \r\n";
        Error e = await(client->refreshSession());
        QCOMPARE(e.code(), QStringLiteral("BAD_RESPONSE"));
        QCOMPARE(e.httpStatus(), 200);
        QCOMPARE(lost.count(), 0);
        QCOMPARE(client->user().id(), guest.id());

        // An account: signed up through the proxy, then an empty 200.
        proxy.setOverride(nullptr);
        const QString email = uniqueEmail();
        QCOMPARE(await(client->signUpEmail(email, Password)), Error());
        QCOMPARE(client->state(), Client::State::SignedIn);
        QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
        const QString accountToken = readToken(install.service).value;
        emptyBody.clear();
        proxy.setOverride([&emptyBody](const FaultyProxy::Request &r) -> std::optional<QByteArray> {
            if (r.url.path() == QLatin1String("/api/auth/get-session"))
                return FaultyProxy::response(200, "OK", emptyBody);
            return std::nullopt;
        });
        e = await(client->refreshSession());
        QCOMPARE(e.code(), QStringLiteral("BAD_RESPONSE"));
        QCOMPARE(lost.count(), 0);
        QCOMPARE(client->state(), Client::State::SignedIn);
        QCOMPARE(client->user().email(), email);
        QCOMPARE(readToken(install.service).value, accountToken);

        // The server's own `null` still is the definite answer.
        proxy.setOverride(nullptr);
        QCOMPARE(rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-out")), {}, accountToken.toUtf8()).status, 200);
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("cannot be used any more: \"SESSION_GONE")));
        QCOMPARE(await(client->refreshSession()).code(), QStringLiteral("SESSION_GONE"));
        QCOMPARE(client->state(), Client::State::SignedOut);
        QCOMPARE(lost.count(), 1);
    }

    // A pull page that does not advance ({"changes":[],"version":since,"more":true}) ends
    // the pull with BAD_RESPONSE, and the operations queued behind it run. It used to be
    // asked again forever: sign-in and sign-out queued behind it never finished.
    void pullThatDoesNotAdvanceEnds()
    {
        FaultyProxy proxy(m_server.url());
        Install install;
        auto client = makeClient(proxy.url(), install, [](ClientOptions &o) { o.setAutoSync(false); });
        QTRY_VERIFY_WITH_TIMEOUT(client->hasServerSession(), Long);
        const QString email = uniqueEmail();
        QCOMPARE(rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-up/email")),
                            QJsonObject{ { QStringLiteral("email"), email }, { QStringLiteral("password"), Password },
                                         { QStringLiteral("name"), QStringLiteral("Stuck") } }).status, 200);
        Collection *cart = client->collection(QStringLiteral("cart"));
        QVERIFY(!cart->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 2 } }).isError());

        auto stuck = [](const FaultyProxy::Request &r) -> std::optional<QByteArray> {
            if (r.url.path() != QLatin1String("/api/sync/pull"))
                return std::nullopt;
            const qint64 since = QUrlQuery(r.url).queryItemValue(QStringLiteral("since")).toLongLong();
            const QJsonObject page{ { QStringLiteral("changes"), QJsonArray() },
                                    { QStringLiteral("version"), double(since) },
                                    { QStringLiteral("more"), true } };
            return FaultyProxy::response(200, "OK", QJsonDocument(page).toJson(QJsonDocument::Compact),
                                         { { "Content-Type", "application/json" } });
        };
        proxy.setOverride(stuck);
        const QRegularExpression logged(QStringLiteral("pull.*did not advance"));
        QTest::ignoreMessage(QtWarningMsg, logged);
        QFuture<Error> sync = client->syncNow();
        QFuture<Error> signIn = client->signInEmail(email, Password);
        QCOMPARE(await(signIn, 15000), Error());
        QCOMPARE(client->state(), Client::State::SignedIn);
        QVERIFY(sync.isFinished());
        const Error e = sync.result();
        QCOMPARE(e.kind(), Error::Kind::BadResponse);
        QVERIFY2(e.message().contains(QLatin1String("did not advance")), qPrintable(e.message()));
        QCOMPARE(proxy.overridden(QStringLiteral("/api/sync/pull")), 1);   // asked once, not again and again
        QCOMPARE(client->pendingChanges(), 0);   // the push before it landed

        // The next sync with a sane server works.
        proxy.setOverride(nullptr);
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(cart->value(QStringLiteral("apple")).value(QStringLiteral("qty")).toInt(), 2);

        // Stuck again (from the account's cursor): signing out behind it still happens.
        proxy.setOverride(stuck);
        QTest::ignoreMessage(QtWarningMsg, logged);
        sync = client->syncNow();
        QFuture<Error> signOut = client->signOut();
        QCOMPARE(await(signOut, 15000), Error());
        QCOMPARE(client->state(), Client::State::SignedOut);
        QCOMPARE(sync.result().kind(), Error::Kind::BadResponse);
        QCOMPARE(proxy.overridden(QStringLiteral("/api/sync/pull")), 2);
    }

    // A pull that never ends: every page announces more and moves `version` on by one (a
    // faulty or hostile server; one that does not advance at all is the test above). A
    // sync ends normally after its page budget (ClientOptions::maxPullPagesPerSync, 200 by
    // default): what it pulled is kept, the operations queued behind it run, and the next
    // sync continues from there, after a pause that grows while the pages stay sparse. It
    // used to pull for ever: the refresh queued behind it never ran. Once the server is
    // sane again, a sync reaches the end and no further one starts by itself.
    void endlessPullEndsAtItsBudget()
    {
        QList<qint64> sinces;   // every `since` the hostile pull was asked for
        struct Run
        {
            qint64 start = -1, end = -1;   // ms on `clock`
            qsizetype firstPull = 0, pulls = -1;
        };
        QList<Run> runs;
        QElapsedTimer clock;
        clock.start();
        FaultyProxy proxy(m_server.url());
        Install install;
        auto client = makeClient(proxy.url(), install, [](ClientOptions &o) { o.setAutoSync(false); });
        QTRY_VERIFY_WITH_TIMEOUT(client->isReady(), Long);
        QCOMPARE(await(client->signUpEmail(uniqueEmail(), Password)), Error());
        Collection *cart = client->collection(QStringLiteral("cart"));
        QCOMPARE(cart->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 2 } }), Error());
        QCOMPARE(await(client->syncNow()), Error());
        QCOMPARE(cart->put(QStringLiteral("pear"), QJsonObject{ { QStringLiteral("qty"), 1 } }), Error());

        proxy.setOverride([&sinces](const FaultyProxy::Request &r) -> std::optional<QByteArray> {
            if (r.url.path() != QLatin1String("/api/sync/pull"))
                return std::nullopt;
            const qint64 since = QUrlQuery(r.url).queryItemValue(QStringLiteral("since")).toLongLong();
            sinces.append(since);
            const QJsonObject change{ { QStringLiteral("collection"), QStringLiteral("cart") },
                                      { QStringLiteral("id"), QStringLiteral("junk-%1").arg(since + 1) },
                                      { QStringLiteral("version"), double(since + 1) },
                                      { QStringLiteral("deleted"), false },
                                      { QStringLiteral("data"), QJsonObject{ { QStringLiteral("junk"), true } } },
                                      { QStringLiteral("updatedAt"), QStringLiteral("2026-11-24T12:00:00.000Z") } };
            const QJsonObject page{ { QStringLiteral("changes"), QJsonArray{ change } },
                                    { QStringLiteral("version"), double(since + 1) },
                                    { QStringLiteral("more"), true } };
            return FaultyProxy::response(200, "OK", QJsonDocument(page).toJson(QJsonDocument::Compact),
                                         { { "Content-Type", "application/json" } });
        });
        QObject::connect(client.get(), &Client::syncStateChanged, client.get(), [&](Client::SyncState state) {
            if (state == Client::SyncState::Syncing) {
                runs.append(Run{ clock.elapsed(), -1, sinces.size(), -1 });
            } else if (!runs.isEmpty() && runs.last().end < 0) {
                runs.last().end = clock.elapsed();
                runs.last().pulls = sinces.size() - runs.last().firstPull;
            }
        });
        QSignalSpy synced(client.get(), &Client::synced);
        QLoggingCategory::setFilterRules(QStringLiteral("kernia.sdk.sync.info=true"));
        QTest::ignoreMessage(QtInfoMsg, QRegularExpression(QStringLiteral("page budget")));

        QFuture<Error> sync = client->syncNow();
        QFuture<Error> refresh = client->refreshSession();
        QCOMPARE(await(refresh, 20000), Error());
        QVERIFY(sync.isFinished());
        QCOMPARE(sync.result(), Error());   // a normal end: nothing failed
        QVERIFY(!runs.isEmpty());
        QCOMPARE(runs.first().pulls, 200);
        QCOMPARE(client->pendingChanges(), 0);   // the push before the pull landed
        QCOMPARE(sinces.first(), 1);             // the cursor after apple's sync
        QVERIFY(cart->get(QStringLiteral("junk-201")));   // the pulled pages are kept
        QCOMPARE(synced.count(), 0);              // not synced: the pull has not reached its end

        // The next syncs come by themselves (also without autoSync: they finish this one),
        // each from where the last one stopped, with a growing pause in between.
        QTRY_VERIFY_WITH_TIMEOUT(runs.size() >= 5 && runs.at(4).end >= 0, 30000);
        for (qsizetype i = 1; i < 5; ++i) {
            const Run &run = runs.at(i), &before = runs.at(i - 1);
            QCOMPARE(run.pulls, 200);
            QCOMPARE(sinces.at(run.firstPull), sinces.at(run.firstPull - 1) + 1);
            QVERIFY2(run.start - before.end >= 60,
                     qPrintable(QStringLiteral("sync %1 started %2 ms after the last one").arg(i).arg(run.start - before.end)));
        }
        // Pauses of 100, 200, 400, 800 ms (+/-20 %; retryInitialDelay 100 ms).
        QVERIFY2(runs.at(4).start - runs.at(3).end > runs.at(2).start - runs.at(1).end,
                 qPrintable(QStringLiteral("pauses %1 ms, then %2 ms")
                                    .arg(runs.at(2).start - runs.at(1).end).arg(runs.at(4).start - runs.at(3).end)));
        QCOMPARE(synced.count(), 0);
        QCOMPARE(client->state(), Client::State::SignedIn);

        // The server is itself again: its version is below the cursor, so the next sync
        // pulls everything, drops the junk and ends; then no sync starts by itself.
        proxy.setOverride(nullptr);
        QTRY_COMPARE_WITH_TIMEOUT(synced.count(), 1, 20000);
        QLoggingCategory::setFilterRules(QString());
        QCOMPARE(cart->count(), 2);
        QVERIFY(cart->get(QStringLiteral("apple")));
        QVERIFY(cart->get(QStringLiteral("pear")));
        const qsizetype ended = runs.size();
        QTest::qWait(1500);   // longer than the longest pause (retryMaxDelay 1 s)
        QCOMPARE(runs.size(), ended);
        QObject::disconnect(client.get(), &Client::syncStateChanged, client.get(), nullptr);
    }

    // A proxy that answers one endpoint badly while GET /ok works: the failing request is
    // retried with the client's exponential backoff and the client stays online. Each bad
    // answer used to mark the client offline; the /ok probe passed at once, coming back
    // online reset the backoff and reran the request: one every ~100 ms here (the base
    // delay), with `online` flapping each time, for as long as the proxy stayed. A success
    // resets the backoff; a real outage still takes the client offline and back promptly.
    void badAnswersBackOffWithoutFlapping()
    {
        FaultyProxy proxy(m_server.url());
        Install install;
        auto tweak = [](ClientOptions &o) { o.setRetryMaxDelay(5000); };
        {
            auto first = makeClient(proxy.url(), install, tweak);
            QTRY_VERIFY_WITH_TIMEOUT(first->hasServerSession(), Long);
            QTRY_COMPARE_WITH_TIMEOUT(readToken(install.service).error, QKeychain::NoError, Long);
        }

        // What the proxy does; it counts every request by path, answered or forwarded.
        enum class Mode { Forward, BadSession, BadPull, Outage };
        Mode mode = Mode::BadSession;
        QHash<QString, int> seen;
        const QString getSession = QStringLiteral("/api/auth/get-session");
        const QString pull = QStringLiteral("/api/sync/pull");
        proxy.setOverride([&](const FaultyProxy::Request &r) -> std::optional<QByteArray> {
            const QString path = r.url.path();
            ++seen[path];
            switch (mode) {
            case Mode::Forward:
                return std::nullopt;
            case Mode::BadSession:   // a proxy's HTML page with a 200
                if (path == getSession)
                    return FaultyProxy::response(200, "OK", "<html><body>Welcome</body></html>",
                                                 { { "Content-Type", "text/html" } });
                return std::nullopt;
            case Mode::BadPull:
                if (path == pull)
                    return portalRedirect();
                return std::nullopt;
            case Mode::Outage:   // the connection closes without an answer, /ok included
                return QByteArray();
            }
            return std::nullopt;
        });

        // Restart: the start-up session check gets the bad answer, and so does every retry.
        auto client = makeClient(proxy.url(), install, tweak);
        QSignalSpy online(client.get(), &Client::onlineChanged);
        QTRY_VERIFY_WITH_TIMEOUT(seen.value(getSession) >= 1, Long);
        const int before = seen.value(getSession);
        QTest::qWait(4000);
        // Backoff 100, 200, 400, 800, 1600, 3200 ms (+/-20 %): about 6 requests in 4 s; at
        // the base rate it would be about 30.
        const int during = seen.value(getSession) - before + 1;
        QVERIFY2(during >= 3 && during <= 8,
                 qPrintable(QStringLiteral("%1 get-session requests in 4 s (backoff: about 6); online changed %2 times")
                                    .arg(during).arg(online.count())));
        QCOMPARE(online.count(), 1);   // came online once, and stayed
        QVERIFY(client->isOnline());
        QCOMPARE(client->lastError().code(), QStringLiteral("BAD_RESPONSE"));
        QCOMPARE(client->state(), Client::State::Guest);
        QVERIFY(client->hasServerSession());

        // The proxy stops interfering: the next retry validates the session and syncs.
        mode = Mode::Forward;
        QTRY_VERIFY_WITH_TIMEOUT(seen.value(pull) >= 1, Long);
        const int sessionChecks = seen.value(getSession);

        // That success reset the backoff: a failing pull is retried from the base delay
        // again (100, 200, 400, 800 ms: about 5 pulls in 2 s), and a bad answer to the
        // pull, a foreign redirect, does not take the client offline either.
        mode = Mode::BadPull;
        int pulls = seen.value(pull);
        QFuture<Error> sync = client->syncNow();
        QCOMPARE(await(sync).kind(), Error::Kind::BadResponse);
        QTest::qWait(2000);
        pulls = seen.value(pull) - pulls;
        QVERIFY2(pulls >= 3 && pulls <= 8, qPrintable(QStringLiteral("%1 pulls in 2 s").arg(pulls)));
        QCOMPARE(online.count(), 1);
        QCOMPARE(seen.value(getSession), sessionChecks);   // the session stays validated

        // A real outage (here while the backoff is long): offline at once on a probe, and
        // back to work promptly when it ends, not after the pending retry delay.
        mode = Mode::Outage;
        client->checkConnection();
        QTRY_VERIFY_WITH_TIMEOUT(!client->isOnline(), Long);
        QCOMPARE(online.count(), 2);
        QTest::qWait(300);
        pulls = seen.value(pull);
        mode = Mode::Forward;
        QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), 2000);
        QTRY_VERIFY_WITH_TIMEOUT(seen.value(pull) > pulls, 2000);
        QCOMPARE(online.count(), 3);
        QCOMPARE(await(client->syncNow()), Error());
    }
};

QTEST_GUILESS_MAIN(TestTransport)
#include "tst_transport.moc"
