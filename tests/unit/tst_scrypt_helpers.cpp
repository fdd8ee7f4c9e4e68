// Unit tests for crypto/scrypt_helper.h (the wire format and the helper's loop, over a
// socketpair) and crypto/scrypt_processes.h (real helper processes: the kernia-scrypt-helper
// this build made, KERNIA_SCRYPT_HELPER).
#include "crypto/password.h"
#include "crypto/scrypt_helper.h"
#include "crypto/scrypt_processes.h"

#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <csignal>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace Kernia::Server;

namespace {

// Cheap parameters keep the many hashes here fast; one test uses Better Auth's.
const ScryptParams kQuick{1024, 8, 1, 64};

QByteArray passwordFor(int i) { return "password-" + QByteArray::number(i); }
QByteArray saltFor(int i) { return "salt-" + QByteArray::number(i * 7919); }
std::string bytes(const QByteArray &b) { return b.toStdString(); }

bool processIsGone(pid_t pid)
{
    return ::kill(pid, 0) != 0 && errno == ESRCH;
}

ScryptProcesses::Options helperOptions(ScryptHelper::Priority priority = ScryptHelper::Priority::Idle)
{
    return {QStringLiteral(KERNIA_SCRYPT_HELPER), 2, priority, 10'000};
}

// A helper takes its priority once it has loaded; wait for it.
bool eventually(const std::function<bool()> &condition)
{
    for (int i = 0; i < 200; ++i) {
        if (condition())
            return true;
        QThread::msleep(10);
    }
    return condition();
}

// Sends one request on fd and reads the answer, as the server does.
QByteArray askHelper(int fd, const QByteArray &password, const QByteArray &salt, const ScryptParams &params)
{
    if (!ScryptHelper::writeFully(fd, ScryptHelper::encodeRequest({bytes(password), bytes(salt), params})))
        return "<write failed>";
    char header[ScryptHelper::kResponseHeaderBytes];
    if (!ScryptHelper::readFully(fd, header, sizeof header, 10'000))
        return "<no answer>";
    const int size = ScryptHelper::decodeResponseHeader(header);
    if (size < 0)
        return "<bad answer>";
    QByteArray key(size, '\0');
    if (!ScryptHelper::readFully(fd, key.data(), size_t(size), 10'000))
        return "<short answer>";
    return key;
}

} // namespace

class TestScryptHelpers : public QObject
{
    Q_OBJECT

private slots:
    void wireFormatRoundTrips()
    {
        const ScryptHelper::Request request{"pässword", "0123abcd", {16384, 16, 1, 64}};
        const std::string wire = ScryptHelper::encodeRequest(request);
        QCOMPARE(wire.size(), ScryptHelper::kRequestHeaderBytes + request.password.size() + request.salt.size());
        std::uint32_t passwordSize = 0, saltSize = 0;
        const std::optional<ScryptHelper::Request> decoded =
                ScryptHelper::decodeRequestHeader(wire.data(), &passwordSize, &saltSize);
        QVERIFY(decoded);
        QCOMPARE(decoded->params.n, std::uint64_t(16384));
        QCOMPARE(decoded->params.r, std::uint32_t(16));
        QCOMPARE(decoded->params.p, std::uint32_t(1));
        QCOMPARE(decoded->params.keyLength, 64);
        QCOMPARE(passwordSize, std::uint32_t(request.password.size()));
        QCOMPARE(saltSize, std::uint32_t(request.salt.size()));
        QVERIFY(wire.substr(ScryptHelper::kRequestHeaderBytes) == request.password + request.salt);
        // Little-endian on the wire, whatever the machine: n = 16384 = 0x4000.
        QVERIFY(wire.substr(4, 8) == std::string("\x00\x40\x00\x00\x00\x00\x00\x00", 8));

        std::string wrongMagic = wire;
        wrongMagic[0] = 'X';
        QVERIFY(!ScryptHelper::decodeRequestHeader(wrongMagic.data(), &passwordSize, &saltSize));
        const std::string hugePassword = ScryptHelper::encodeRequest(
                {std::string(ScryptHelper::kMaxPasswordBytes + 1, 'p'), "salt", {}});
        QVERIFY(!ScryptHelper::decodeRequestHeader(hugePassword.data(), &passwordSize, &saltSize));
        const std::string hugeKey = ScryptHelper::encodeRequest({"pw", "salt", {16384, 16, 1, 4096}});
        QVERIFY(!ScryptHelper::decodeRequestHeader(hugeKey.data(), &passwordSize, &saltSize));

        const std::string answer = ScryptHelper::encodeResponse(std::string(64, 'k'));
        QCOMPARE(ScryptHelper::decodeResponseHeader(answer.data()), 64);
        QCOMPARE(ScryptHelper::decodeResponseHeader(ScryptHelper::encodeResponse({}).data()), 0);
        std::string badAnswer = answer;
        badAnswer[3] = '9';
        QCOMPARE(ScryptHelper::decodeResponseHeader(badAnswer.data()), -1);
    }

    void priorityNames()
    {
        using ScryptHelper::Priority;
        for (Priority priority : {Priority::Idle, Priority::Low, Priority::Normal})
            QCOMPARE(ScryptHelper::priorityFromName(ScryptHelper::priorityName(priority)), priority);
        QVERIFY(!ScryptHelper::priorityFromName("IDLE"));
        QVERIFY(!ScryptHelper::priorityFromName(""));
    }

    void serveAnswersUntilTheServerHangsUp()
    {
        int fds[2];
        QCOMPARE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        std::atomic<int> exitCode{-1};
        std::thread helper([&] { exitCode = ScryptHelper::serve(fds[1]); });

        for (int i = 0; i < 5; ++i) {
            const QByteArray key = askHelper(fds[0], passwordFor(i), saltFor(i), kQuick);
            QCOMPARE(key, scryptKey(passwordFor(i), saltFor(i), kQuick));
        }
        // Better Auth's parameters, and parameters scrypt refuses (an empty key, not a hang-up).
        QCOMPARE(askHelper(fds[0], "correct horse", "abc", {}), scryptKey("correct horse", "abc", {}));
        QCOMPARE(askHelper(fds[0], "pw", "salt", {1000, 8, 1, 64}), QByteArray());
        QCOMPARE(askHelper(fds[0], "pw", "salt", kQuick), scryptKey("pw", "salt", kQuick));

        ::close(fds[0]);
        helper.join();
        QCOMPARE(exitCode.load(), 0);
        ::close(fds[1]);
    }

    void serveRefusesMalformedRequests_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        const auto wire = [](const std::string &password) {
            return QByteArray::fromStdString(ScryptHelper::encodeRequest({password, "salt", kQuick}));
        };
        QByteArray wrongMagic = wire("pw");
        wrongMagic[1] = 'Z';
        QTest::newRow("wrong magic") << wrongMagic;
        QTest::newRow("oversized password") << wire(std::string(ScryptHelper::kMaxPasswordBytes + 1, 'p'));
        QTest::newRow("truncated header") << wire("pw").left(10);
        QTest::newRow("truncated body") << wire("password").chopped(3);
    }

    void serveRefusesMalformedRequests()
    {
        QFETCH(QByteArray, bytes);
        int fds[2];
        QCOMPARE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        std::atomic<int> exitCode{-1};
        // Closing its end when serve() returns is what the helper process's exit does.
        std::thread helper([&] { exitCode = ScryptHelper::serve(fds[1]); ::close(fds[1]); });
        ScryptHelper::writeFully(fds[0], bytes.toStdString());   // may fail half-way: the helper stops reading
        ::shutdown(fds[0], SHUT_WR);               // a truncated request ends here
        helper.join();
        QCOMPARE(exitCode.load(), 1);
        char byte;
        QVERIFY(::read(fds[0], &byte, 1) <= 0);    // nothing was answered (end of input or a reset)
        ::close(fds[0]);
    }

    void helpersHashLikeThisProcess()
    {
        QTest::failOnWarning(QRegularExpression(QStringLiteral(".")));
        ScryptProcesses helpers(helperOptions());
        const std::vector<pid_t> pids = helpers.idleHelperPids();
        QCOMPARE(pids.size(), size_t(2));
        QVERIFY(eventually([&] {
            return std::all_of(pids.begin(), pids.end(), [](pid_t pid) { return ::sched_getscheduler(pid) == SCHED_IDLE; });
        }));

        // Four threads on two helpers: every caller gets its own answer.
        std::atomic<int> wrong{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                for (int i = t * 10; i < t * 10 + 10; ++i) {
                    if (helpers.scrypt(passwordFor(i), saltFor(i), kQuick) != scryptKey(passwordFor(i), saltFor(i), kQuick))
                        ++wrong;
                }
            });
        }
        for (std::thread &thread : threads)
            thread.join();
        QCOMPARE(wrong.load(), 0);
        std::vector<pid_t> after = helpers.idleHelperPids();
        std::sort(after.begin(), after.end());
        std::vector<pid_t> before = pids;
        std::sort(before.begin(), before.end());
        QCOMPARE(after, before);   // the same two helpers did all of it

        // Better Auth's stored format through the helpers, checked in this process and back.
        const ScryptFunction viaHelpers = [&](const QByteArray &password, const QByteArray &salt, const ScryptParams &params) {
            return helpers.scrypt(password, salt, params);
        };
        const QString stored = hashPassword(QStringLiteral("correct horse battery staple"), {}, viaHelpers);
        QVERIFY(verifyPassword(stored, QStringLiteral("correct horse battery staple")));
        QVERIFY(verifyPassword(stored, QStringLiteral("correct horse battery staple"), {}, viaHelpers));
        QVERIFY(!verifyPassword(stored, QStringLiteral("correct horse battery stapler"), {}, viaHelpers));
    }

    void helpersGetNoneOfTheServersEnvironment()
    {
        qputenv("KERNIA_SECRET", "a-secret-the-helper-must-not-see-0123456789");
        qputenv("LD_LIBRARY_PATH", "/nonexistent/kernia-test-libs");
        ScryptProcesses helpers(helperOptions());
        qunsetenv("KERNIA_SECRET");
        qunsetenv("LD_LIBRARY_PATH");
        QCOMPARE(helpers.scrypt("pw", "salt", kQuick), scryptKey("pw", "salt", kQuick));   // it runs
        for (pid_t pid : helpers.idleHelperPids()) {
            // Empty until execve has set up the helper's new memory: wait for it to be written.
            QByteArray environment;
            QVERIFY(eventually([&] {
                QFile environ(QStringLiteral("/proc/%1/environ").arg(pid));
                environment = environ.open(QIODevice::ReadOnly) ? environ.readAll() : QByteArray();
                return !environment.isEmpty();
            }));
            QCOMPARE(environment, QByteArray("LD_LIBRARY_PATH=/nonexistent/kernia-test-libs", 46));
        }
    }

    void priorityIsTheHelpersOnly()
    {
        errno = 0;
        const int ownNice = ::getpriority(PRIO_PROCESS, 0);
        QCOMPARE(errno, 0);
        {
            ScryptProcesses low(helperOptions(ScryptHelper::Priority::Low));
            const pid_t pid = low.idleHelperPids().at(0);
            QVERIFY(eventually([&] { return ::getpriority(PRIO_PROCESS, id_t(pid)) == qMin(19, ownNice + 10); }));
            QCOMPARE(::sched_getscheduler(pid), SCHED_OTHER);
        }
        {
            ScryptProcesses normal(helperOptions(ScryptHelper::Priority::Normal));
            const pid_t pid = normal.idleHelperPids().at(0);
            QCOMPARE(normal.scrypt("pw", "salt", kQuick), scryptKey("pw", "salt", kQuick));   // it has loaded
            QCOMPARE(::getpriority(PRIO_PROCESS, id_t(pid)), ownNice);
            QCOMPARE(::sched_getscheduler(pid), SCHED_OTHER);
        }
        QCOMPARE(::getpriority(PRIO_PROCESS, 0), ownNice);
        QCOMPARE(::sched_getscheduler(0), SCHED_OTHER);
    }

    void aDeadHelperIsReplaced()
    {
        QTest::failOnWarning(QRegularExpression(QStringLiteral("in the server process")));
        ScryptProcesses helpers(helperOptions());
        const std::vector<pid_t> killed = helpers.idleHelperPids();
        for (pid_t pid : killed)
            QCOMPARE(::kill(pid, SIGKILL), 0);
        for (int i = 0; i < 2; ++i) {
            QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("^scrypt helper \\d+ failed; starting another$")));
            QCOMPARE(helpers.scrypt(passwordFor(i), saltFor(i), kQuick), scryptKey(passwordFor(i), saltFor(i), kQuick));
        }
        const std::vector<pid_t> replacements = helpers.idleHelperPids();
        QCOMPARE(replacements.size(), size_t(2));
        for (pid_t pid : killed) {
            QVERIFY(std::find(replacements.begin(), replacements.end(), pid) == replacements.end());
            QVERIFY2(processIsGone(pid), "the killed helper was reaped, not left a zombie");
        }
    }

    void withoutHelpersTheServerHashesItself()
    {
        ScryptProcesses::Options options = helperOptions();
        options.program = QStringLiteral("/nonexistent/kernia-server");
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("^cannot start an scrypt helper")));
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("^cannot start an scrypt helper")));
        ScryptProcesses helpers(options);
        QVERIFY(helpers.idleHelperPids().empty());
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("^cannot start an scrypt helper")));
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("^no scrypt helper could run: hashing in the server process$")));
        QCOMPARE(helpers.scrypt("pw", "salt", kQuick), scryptKey("pw", "salt", kQuick));
    }

    void aSilentHelperIsReplacedAfterTheTimeout()
    {
        // A "helper" that never answers, like one starved of CPU at idle priority.
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QFile script(dir.filePath(QStringLiteral("silent-helper")));
        QVERIFY(script.open(QIODevice::WriteOnly));
        script.write("#!/bin/sh\nexec sleep 60\n");
        script.close();
        QVERIFY(script.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));

        ScryptProcesses::Options options = helperOptions();
        options.program = script.fileName();
        options.answerTimeoutMs = 300;
        ScryptProcesses helpers(options);
        const std::vector<pid_t> silent = helpers.idleHelperPids();
        QCOMPARE(silent.size(), size_t(2));

        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                "^scrypt helper \\d+ did not answer within 300 ms at idle priority .*hashing in the server process$")));
        QElapsedTimer timer;
        timer.start();
        QCOMPARE(helpers.scrypt("pw", "salt", kQuick), scryptKey("pw", "salt", kQuick));
        QVERIFY2(timer.elapsed() >= 300 && timer.elapsed() < 5000, qPrintable(QString::number(timer.elapsed())));
        QCOMPARE(helpers.idleHelperPids().size(), size_t(1));   // replaced at its next use
        QCOMPARE(std::count_if(silent.begin(), silent.end(), processIsGone), 1L);
    }

    void helpersThatDoNotEndAreKilled()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QFile script(dir.filePath(QStringLiteral("stubborn-helper")));
        QVERIFY(script.open(QIODevice::WriteOnly));
        script.write("#!/bin/sh\nexec sleep 60\n");   // ignores its socket closing
        script.close();
        QVERIFY(script.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));
        ScryptProcesses::Options options = helperOptions();
        options.program = script.fileName();
        std::vector<pid_t> pids;
        QElapsedTimer timer;
        {
            ScryptProcesses helpers(options);
            pids = helpers.idleHelperPids();
            timer.start();
        }
        QVERIFY2(timer.elapsed() < 10'000, qPrintable(QString::number(timer.elapsed())));
        QCOMPARE(pids.size(), size_t(2));
        for (pid_t pid : pids)
            QVERIFY(processIsGone(pid));
    }

    void helpersEndWithTheirOwner()
    {
        std::vector<pid_t> pids;
        {
            ScryptProcesses helpers(helperOptions());
            pids = helpers.idleHelperPids();
            QCOMPARE(helpers.scrypt("pw", "salt", kQuick), scryptKey("pw", "salt", kQuick));
        }
        QCOMPARE(pids.size(), size_t(2));
        for (pid_t pid : pids)
            QVERIFY(processIsGone(pid));
    }

    void helperRefusesBadArguments()
    {
        QProcess helper;
        for (const QStringList &arguments : {QStringList{QStringLiteral("--priority"), QStringLiteral("urgent")},
                                             QStringList{QStringLiteral("--priority")},
                                             QStringList{QStringLiteral("--nice"), QStringLiteral("5")}}) {
            helper.start(QStringLiteral(KERNIA_SCRYPT_HELPER), arguments);
            QVERIFY(helper.waitForFinished(10'000));
            QCOMPARE(helper.exitCode(), 2);
            QVERIFY(helper.readAllStandardError().contains("usage: kernia-scrypt-helper [--priority idle|low|normal]"));
        }
    }
};

QTEST_GUILESS_MAIN(TestScryptHelpers)
#include "tst_scrypt_helpers.moc"
