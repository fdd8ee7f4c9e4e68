// POST /delete-user and GET /delete-user/callback (endpoints.md §13): deletion with a
// password, a fresh session, or, with a mailer and a verified address, the link mailed to
// the user (Better Auth's sendDeleteAccountVerification flow; Kernia's default).
#include "test_server.h"

#include "crypto/crypto.h"
#include "mail/outbox_mailer.h"

#include <QFile>
#include <QRegularExpression>

using namespace Kernia::Server;
using namespace Kernia::Server::Testing;

namespace {

struct Signed
{
    QString id;
    QByteArray cookie;
};

QList<QJsonObject> mailsIn(const QString &path)
{
    QList<QJsonObject> mails;
    QFile file(path);
    if (file.open(QIODevice::ReadOnly)) {
        for (const QByteArray &line : file.readAll().split('\n')) {
            if (!line.isEmpty())
                mails << QJsonDocument::fromJson(line).object();
        }
    }
    return mails;
}

QJsonObject error(const char *code, const char *message)
{
    return QJsonObject{{"message", message}, {"code", code}};
}

} // namespace

class TestDeleteUser : public QObject
{
    Q_OBJECT

    static QString attachOutbox(TestServer &server)
    {
        const QString path = server.dir.filePath(QStringLiteral("outbox.jsonl"));
        server.auth->setMailer(std::make_shared<OutboxMailer>(path));
        return path;
    }

    static Signed signUp(TestServer &server, const QString &email, bool verified = true)
    {
        const Response up = server.post(QStringLiteral("/sign-up/email"), {{"name", "U"}, {"email", email}, {"password", "password123"}});
        if (up.status() != 200)
            qFatal("sign-up of %s failed: %s", qPrintable(email), up.body().constData());
        const QString id = TestServer::json(up).value("user").toObject().value("id").toString();
        if (verified) {
            std::optional<User> user = server.store->userById(id);
            user->emailVerified = true;
            server.store->updateUser(*user);
        }
        return {id, server.sessionCookie(up)};
    }

    static bool exists(TestServer &server, const QString &userId) { return server.store->userById(userId).has_value(); }

    // POST /delete-user, then the token of the mail it sent.
    static QString requestLink(TestServer &server, const QString &outbox, const Signed &user, const QJsonObject &body = {})
    {
        const int before = int(mailsIn(outbox).size());
        const Response r = server.post(QStringLiteral("/delete-user"), body, user.cookie);
        if (r.status() != 200 || TestServer::json(r) != QJsonObject{{"success", true}, {"message", "Verification email sent"}})
            qFatal("no deletion link: %d %s", r.status(), r.body().constData());
        const QList<QJsonObject> mails = mailsIn(outbox);
        if (mails.size() != before + 1)
            qFatal("expected one more mail in %s", qPrintable(outbox));
        return mails.last().value("token").toString();
    }

    static bool clearsSessionCookie(TestServer &server, const Response &r)
    {
        const auto cookie = r.cookie(server.auth->sessions().sessionTokenCookie());
        return cookie && cookie->value.isEmpty();
    }

private slots:
    // The mail, its link opened signed in: deleted, session cookies cleared, redirected.
    void linkMailedThenOpenedDeletes()
    {
        TestServer server;
        const QString outbox = attachOutbox(server);
        const Signed ada = signUp(server, QStringLiteral("ada@example.com"));

        Response r = server.post(QStringLiteral("/delete-user"), {{"callbackURL", "/bye"}}, ada.cookie);
        QCOMPARE(r.status(), 200);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"success", true}, {"message", "Verification email sent"}}));
        QVERIFY(!r.cookie(server.auth->sessions().sessionTokenCookie()));
        QVERIFY(exists(server, ada.id));
        const QList<QJsonObject> mails = mailsIn(outbox);
        QCOMPARE(mails.size(), 1);
        const QJsonObject mail = mails.last();
        QCOMPARE(mail.value("kind").toString(), QStringLiteral("delete-account"));
        QCOMPARE(mail.value("email").toString(), QStringLiteral("ada@example.com"));
        QCOMPARE(mail.value("userId").toString(), ada.id);
        const QString token = mail.value("token").toString();
        QVERIFY2(QRegularExpression(QStringLiteral("^[0-9a-z]{32}$")).match(token).hasMatch(), qPrintable(token));
        QCOMPARE(mail.value("url").toString(),
                 QStringLiteral("http://127.0.0.1:3100/api/auth/delete-user/callback?token=%1&callbackURL=%2Fbye").arg(token));
        QVERIFY(mail.value("text").toString().contains(mail.value("url").toString()));
        // The database holds a hash of the token, not the token.
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM verification WHERE identifier LIKE :t"),
                               {{"t", QStringLiteral("%") + token + QStringLiteral("%")}}), 0);
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM verification WHERE value = :u"), {{"u", ada.id}}), 1);

        r = server.get(QStringLiteral("/delete-user/callback?token=%1&callbackURL=%2Fbye").arg(token), ada.cookie);
        QCOMPARE(r.status(), 302);
        QCOMPARE(r.header("location"), QByteArray("/bye"));
        QVERIFY(clearsSessionCookie(server, r));
        QVERIFY(!exists(server, ada.id));
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM session WHERE \"userId\" = :u"), {{"u", ada.id}}), 0);
        QCOMPARE(server.scalar(QStringLiteral("SELECT count(*) FROM verification WHERE value = :u"), {{"u", ada.id}}), 0);
        QCOMPARE(server.get(QStringLiteral("/get-session"), ada.cookie).body(), QByteArray("null"));

        // Without callbackURL the answer is Better Auth's JSON.
        const Signed bea = signUp(server, QStringLiteral("bea@example.com"));
        const QString beaToken = requestLink(server, outbox, bea);
        r = server.get(QStringLiteral("/delete-user/callback?token=") + beaToken, bea.cookie);
        QCOMPARE(r.status(), 200);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"success", true}, {"message", "User deleted"}}));
        QVERIFY(clearsSessionCookie(server, r));
        QVERIFY(!exists(server, bea.id));

        // The token in POST /delete-user's body (authClient.deleteUser({token})) works too.
        const Signed cy = signUp(server, QStringLiteral("cy@example.com"));
        const QString cyToken = requestLink(server, outbox, cy);
        r = server.post(QStringLiteral("/delete-user"), {{"token", cyToken}}, cy.cookie);
        QCOMPARE(r.status(), 200);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"success", true}, {"message", "User deleted"}}));
        QVERIFY(clearsSessionCookie(server, r));
        QVERIFY(!exists(server, cy.id));
    }

    // Every way a link can be wrong: nothing is deleted, and the right link still works.
    void badLinksDeleteNothing()
    {
        TestServer server;
        const QString outbox = attachOutbox(server);
        const Signed dan = signUp(server, QStringLiteral("dan@example.com"));
        const Signed eve = signUp(server, QStringLiteral("eve@example.com"));
        const QString first = requestLink(server, outbox, dan);
        const QString token = requestLink(server, outbox, dan);   // replaces the first
        const auto callback = [&](const QString &t) { return QStringLiteral("/delete-user/callback?token=") + t; };

        Response r = server.get(callback(token));   // not signed in
        QCOMPARE(r.status(), 404);
        QCOMPARE(TestServer::json(r), error("FAILED_TO_GET_USER_INFO", "Failed to get user info"));
        r = server.get(callback(token), eve.cookie);   // someone else's session
        QCOMPARE(r.status(), 404);
        QCOMPARE(TestServer::json(r), error("INVALID_TOKEN", "Invalid token"));
        QVERIFY(exists(server, eve.id));
        r = server.post(QStringLiteral("/delete-user"), {{"token", token}}, eve.cookie);
        QCOMPARE(r.status(), 404);
        QCOMPARE(TestServer::json(r), error("INVALID_TOKEN", "Invalid token"));
        for (const QString &wrong : {first, QStringLiteral("0123456789abcdefghijklmnopqrstuv"), QString()}) {
            r = server.get(callback(wrong), dan.cookie);
            QCOMPARE(r.status(), 404);
            QCOMPARE(TestServer::json(r), error("INVALID_TOKEN", "Invalid token"));
        }
        r = server.get(QStringLiteral("/delete-user/callback"), dan.cookie);
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("VALIDATION_ERROR"));
        r = server.get(callback(token) + QStringLiteral("&callbackURL=https%3A%2F%2Fevil.example%2F"), dan.cookie);
        QCOMPARE(r.status(), 403);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_CALLBACK_URL"));
        r = server.post(QStringLiteral("/delete-user"), {{"token", 5}}, dan.cookie);
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("VALIDATION_ERROR"));

        // An expired link (stored as the server stores them: a hash of the token).
        const QString old = QStringLiteral("expiredexpiredexpiredexpired0000");
        Verification expired;
        expired.id = QStringLiteral("expired-link");
        expired.identifier = QStringLiteral("delete-account-")
                             + QString::fromLatin1(Crypto::sha256(old.toUtf8())
                                                       .toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
        expired.value = dan.id;
        expired.createdAt = expired.updatedAt = QDateTime::currentDateTimeUtc().addDays(-2);
        expired.expiresAt = QDateTime::currentDateTimeUtc().addSecs(-1);
        server.store->createVerification(expired);
        r = server.get(callback(old), dan.cookie);
        QCOMPARE(r.status(), 404);
        QCOMPARE(TestServer::json(r), error("INVALID_TOKEN", "Invalid token"));

        QVERIFY(exists(server, dan.id));
        QVERIFY(exists(server, eve.id));
        r = server.get(callback(token), dan.cookie);
        QCOMPARE(r.status(), 200);
        QVERIFY(!exists(server, dan.id));
        QVERIFY(exists(server, eve.id));
        // Used: the same link again, now from Eve, deletes nothing.
        r = server.get(callback(token), eve.cookie);
        QCOMPARE(r.status(), 404);
        QVERIFY(exists(server, eve.id));
    }

    // A password is checked first; right, the link is still mailed (Better Auth).
    void passwordIsCheckedBeforeTheMail()
    {
        TestServer server;
        const QString outbox = attachOutbox(server);
        const Signed fay = signUp(server, QStringLiteral("fay@example.com"));
        Response r = server.post(QStringLiteral("/delete-user"), {{"password", "wrong-password"}}, fay.cookie);
        QCOMPARE(r.status(), 400);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("INVALID_PASSWORD"));
        QCOMPARE(mailsIn(outbox).size(), 0);
        r = server.post(QStringLiteral("/delete-user"), {{"password", "password123"}}, fay.cookie);
        QCOMPARE(r.status(), 200);
        QCOMPARE(TestServer::json(r).value("message").toString(), QStringLiteral("Verification email sent"));
        QCOMPARE(mailsIn(outbox).size(), 1);
        QVERIFY(exists(server, fay.id));
        QCOMPARE(server.post(QStringLiteral("/delete-user"), {}).status(), 401);   // no session
    }

    // No confirmation: deleted at once, nothing mailed.
    void deletesAtOnceWithoutConfirmation_data()
    {
        QTest::addColumn<QString>("who");
        QTest::newRow("unverified email") << QStringLiteral("unverified");
        QTest::newRow("guest") << QStringLiteral("guest");
        QTest::newRow("confirmation turned off") << QStringLiteral("off");
        QTest::newRow("no mailer") << QStringLiteral("no-mailer");
    }
    void deletesAtOnceWithoutConfirmation()
    {
        QFETCH(QString, who);
        AuthOptions options = TestServer::defaultOptions();
        options.deleteUserConfirmationEnabled = who != QLatin1String("off");
        TestServer server({}, options);
        const QString outbox = who == QLatin1String("no-mailer") ? QString() : attachOutbox(server);
        Signed user;
        if (who == QLatin1String("guest")) {
            const Response guest = server.post(QStringLiteral("/sign-in/anonymous"), {});
            user = {TestServer::json(guest).value("user").toObject().value("id").toString(), server.sessionCookie(guest)};
        } else {
            user = signUp(server, QStringLiteral("gus@example.com"), who != QLatin1String("unverified"));
        }
        const Response r = server.post(QStringLiteral("/delete-user"), {}, user.cookie);
        QCOMPARE(r.status(), 200);
        QCOMPARE(TestServer::json(r), (QJsonObject{{"success", true}, {"message", "User deleted"}}));
        QVERIFY(clearsSessionCookie(server, r));
        QVERIFY(!exists(server, user.id));
        if (!outbox.isEmpty())
            QCOMPARE(mailsIn(outbox).size(), 0);
    }

    // The mail cannot go out: 500 FAILED_TO_SEND_EMAIL, the user stays.
    void failedMailKeepsTheUser()
    {
        TestServer server;
        server.auth->setMailer(std::make_shared<OutboxMailer>(server.dir.path()));   // a directory: every write fails
        const Signed hal = signUp(server, QStringLiteral("hal@example.com"));
        const Response r = server.post(QStringLiteral("/delete-user"), {}, hal.cookie);
        QCOMPARE(r.status(), 500);
        QCOMPARE(TestServer::json(r).value("code").toString(), QStringLiteral("FAILED_TO_SEND_EMAIL"));
        QVERIFY(exists(server, hal.id));
    }
};

QTEST_GUILESS_MAIN(TestDeleteUser)
#include "tst_delete_user.moc"
