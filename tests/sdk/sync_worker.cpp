// Helper for tst_sdk_sync's crash test: one app install that writes N numbered records
// and syncs them, and that the test SIGKILLs at random points and starts again.
//
//   kernia_sync_worker --server URL --data DIR --service KEYCHAIN_SERVICE --count N
//                      --email E --password P [--pace MS] [--setup]
//
// --setup: sign in to the account (E, P) and exit once the session is stored.
// Otherwise: write the records "rec-0001" … missing locally (each put is one local
// transaction with its outbox entry; --pace: run the event loop MS ms after each put, so
// automatic pushes interleave with the writes), then syncNow() until nothing is pending.
// Exit codes: 0 done, 2 bad arguments, 3 not signed in, 4 timeout.
#include <Kernia/Client>

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QDeadlineTimer>
#include <QtCore/QFutureWatcher>
#include <QtCore/QTimer>

#include <cstdio>

using Kernia::Client;
using Kernia::Error;

namespace {

// Runs the event loop until the future finishes (bounded).
Error await(QFuture<Error> future, int ms)
{
    QDeadlineTimer deadline(ms);
    while (!future.isFinished() && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    if (!future.isFinished())
        return Error(Error::Kind::Timeout, QStringLiteral("WORKER_TIMEOUT"), QStringLiteral("the future did not finish"));
    return future.result();
}

void wait(int ms)
{
    QDeadlineTimer deadline(ms);
    while (!deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
}

void say(const QString &line)
{
    std::fprintf(stdout, "%s\n", qPrintable(line));
    std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    const QCommandLineOption server(QStringLiteral("server"), QStringLiteral("server URL"), QStringLiteral("url"));
    const QCommandLineOption data(QStringLiteral("data"), QStringLiteral("data directory"), QStringLiteral("dir"));
    const QCommandLineOption service(QStringLiteral("service"), QStringLiteral("keychain service"), QStringLiteral("name"));
    const QCommandLineOption count(QStringLiteral("count"), QStringLiteral("records to write"), QStringLiteral("n"));
    const QCommandLineOption email(QStringLiteral("email"), QStringLiteral("account email"), QStringLiteral("email"));
    const QCommandLineOption password(QStringLiteral("password"), QStringLiteral("account password"), QStringLiteral("pw"));
    const QCommandLineOption pace(QStringLiteral("pace"), QStringLiteral("ms of event loop after each put"), QStringLiteral("ms"));
    const QCommandLineOption setup(QStringLiteral("setup"), QStringLiteral("sign in and exit"));
    parser.addOptions({ server, data, service, count, email, password, pace, setup });
    parser.process(app);
    if (!parser.isSet(server) || !parser.isSet(data) || !parser.isSet(service))
        return 2;

    Kernia::ClientOptions options(QUrl(parser.value(server)));
    options.setDataDirectory(parser.value(data));
    options.setKeychainService(parser.value(service));
    options.setRequestTimeout(5000);
    options.setRetryInitialDelay(50);
    options.setRetryMaxDelay(500);
    options.setSyncDelay(20);
    options.setUseSystemNetworkInformation(false);
    Client client(options);

    QDeadlineTimer readyBy(20000);
    while (!client.isReady() && !readyBy.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    if (!client.isReady())
        return 4;

    if (parser.isSet(setup)) {
        if (client.state() != Client::State::SignedIn) {
            const Error e = await(client.signInEmail(parser.value(email), parser.value(password)), 30000);
            if (e.isError()) {
                say(QStringLiteral("sign-in failed: ") + e.toString());
                return 3;
            }
        }
        wait(1000);   // let the keychain write land
        say(QStringLiteral("signed in"));
        return 0;
    }
    if (client.state() != Client::State::SignedIn || !client.hasServerSession()) {
        say(QStringLiteral("not signed in"));
        return 3;
    }

    const int n = parser.value(count).toInt();
    const int paceMs = parser.value(pace).toInt();
    Kernia::Collection *records = client.collection(QStringLiteral("numbers"));
    int written = 0;
    for (int i = 1; i <= n; ++i) {
        const QString id = QStringLiteral("rec-%1").arg(i, 4, 10, QLatin1Char('0'));
        if (records->contains(id))
            continue;
        const Error e = records->put(id, QJsonObject{ { QStringLiteral("n"), i } });
        if (e.isError()) {
            say(QStringLiteral("put failed: ") + e.toString());
            return 5;
        }
        ++written;
        if (paceMs > 0)
            wait(paceMs);   // automatic pushes run in between
        else if (i % 25 == 0)
            QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
    }
    say(QStringLiteral("written %1, pending %2").arg(written).arg(client.pendingChanges()));

    QDeadlineTimer deadline(120000);
    while (!deadline.hasExpired()) {
        const Error e = await(client.syncNow(), 30000);
        if (!e.isError() && client.pendingChanges() == 0) {
            say(QStringLiteral("synced"));
            return 0;
        }
        say(QStringLiteral("sync: ") + e.toString());
        wait(200);
    }
    return 4;
}
