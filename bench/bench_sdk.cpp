// kernia-bench-sdk — local writes per second through Kernia::Collection.
//
//   kernia-bench-sdk [--records 10000] [--server http://127.0.0.1:3000] [--sync]
//
// Each put() writes the record and its outbox entry in one SQLite transaction, so this
// measures what an app pays per local change. Without --sync the client points at a
// closed port (offline: nothing competes with the writes). With --sync it then also
// measures how long the SDK takes to push the whole outbox to a running server.
#include <Kernia/Client>
#include <Kernia/ClientOptions>
#include <Kernia/Collection>

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QDeadlineTimer>
#include <QtCore/QElapsedTimer>
#include <QtCore/QFileInfo>
#include <QtCore/QJsonObject>
#include <QtCore/QTemporaryDir>
#include <QtCore/QTimer>

#include <cstdio>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    parser.addOptions({ { QStringLiteral("server"), QStringLiteral("kernia-server URL (for --sync)"), QStringLiteral("url"),
                          QStringLiteral("http://127.0.0.1:1") },
                        { QStringLiteral("records"), QStringLiteral("records to write"), QStringLiteral("n"),
                          QStringLiteral("10000") },
                        { QStringLiteral("sync"), QStringLiteral("then time the SDK's push of all records") } });
    parser.process(app);
    const int records = parser.value(QStringLiteral("records")).toInt();
    const bool sync = parser.isSet(QStringLiteral("sync"));

    QTemporaryDir dir;
    Kernia::ClientOptions options(QUrl(parser.value(QStringLiteral("server"))));
    options.setAppId(QStringLiteral("dev.kernia.bench"));
    options.setDataDirectory(dir.path());
    options.setKeychainService(QStringLiteral("kernia-bench:") + QFileInfo(dir.path()).fileName());
    options.setAllowInsecurePlaintextTokenStorage(true);
    options.setUseSystemNetworkInformation(false);
    options.setRetryInitialDelay(100);
    options.setRetryMaxDelay(1000);
    Kernia::Client client(options);
    Kernia::Collection *cart = client.collection(QStringLiteral("bench"));

    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < records; ++i) {
        const Kernia::Error error = cart->put(QStringLiteral("item-%1").arg(i, 6, 10, QLatin1Char('0')),
                                              QJsonObject{ { QStringLiteral("name"), QStringLiteral("Product %1").arg(i) },
                                                           { QStringLiteral("qty"), i % 7 + 1 },
                                                           { QStringLiteral("price"), 1.5 + i % 10 } });
        if (error) {
            std::fprintf(stderr, "kernia-bench-sdk: put %d failed: %s\n", i, qPrintable(error.message()));
            return 1;
        }
    }
    const double s = double(timer.nsecsElapsed()) / 1e9;
    std::printf("local %6d puts     %8.3f s  %9.0f writes/s  (%.1f us/write)\n", records, s, records / s,
                s * 1e6 / records);
    if (cart->count() != records) {
        std::fprintf(stderr, "kernia-bench-sdk: count %d, expected %d\n", cart->count(), records);
        return 1;
    }
    if (!sync)
        return 0;

    // Until the outbox is empty (bounded: 10 minutes).
    timer.restart();
    QDeadlineTimer deadline(10 * 60 * 1000);
    QTimer poll;
    QObject::connect(&poll, &QTimer::timeout, &app, [&] {
        if ((client.hasServerSession() && client.pendingChanges() == 0) || deadline.hasExpired())
            app.quit();
    });
    poll.start(5);
    app.exec();
    if (client.pendingChanges() != 0) {
        std::fprintf(stderr, "kernia-bench-sdk: %d changes still pending after 10 minutes\n", client.pendingChanges());
        return 1;
    }
    const double ss = double(timer.nsecsElapsed()) / 1e9;
    std::printf("sdk   %6d synced   %8.3f s  %9.0f records/s  (register + push of the outbox)\n", records, ss,
                records / ss);
    return 0;
}
