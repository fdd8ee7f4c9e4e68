#include "scrypt_processes.h"

#include <QLoggingCategory>
#include <QDeadlineTimer>
#include <QMutexLocker>
#include <QThread>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace Kernia::Server {

namespace {

Q_LOGGING_CATEGORY(lcScrypt, "kernia.scrypt")

constexpr int kExitWaitMs = 2000;   // for helpers to end after the server hangs up

// An fd of 0–2 (a server started with stdin closed) would survive dup2 onto 0 with its
// close-on-exec flag still set; move it out of the way first.
int aboveStandardStreams(int fd)
{
    if (fd > STDERR_FILENO)
        return fd;
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    ::close(fd);
    return moved;
}

// The helper gets none of the server's environment (KERNIA_SECRET, KERNIA_SMTP_PASSWORD,
// database URLs): only what the dynamic loader may need to find libsodium.
std::vector<QByteArray> helperEnvironment()
{
    std::vector<QByteArray> environment;
    for (const char *name : {"LD_LIBRARY_PATH"}) {
        if (qEnvironmentVariableIsSet(name))
            environment.push_back(QByteArray(name) + '=' + qgetenv(name));
    }
    return environment;
}

} // namespace

ScryptProcesses::ScryptProcesses(Options options)
    : m_options(std::move(options))
{
    const int processes = qMax(1, m_options.processes);
    for (int i = 0; i < processes; ++i)
        m_free.push_back(spawn());
}

ScryptProcesses::~ScryptProcesses()
{
    // Closing its socket ends a helper. Wait for each so none outlives the server, but only
    // so long: one that does not end (hung, or not a real helper) is killed.
    for (Helper &helper : m_free) {
        if (helper.isRunning())
            ::close(helper.fd);
    }
    QDeadlineTimer deadline(kExitWaitMs);
    for (Helper &helper : m_free) {
        if (!helper.isRunning())
            continue;
        while (::waitpid(helper.pid, nullptr, WNOHANG) == 0) {
            if (deadline.hasExpired()) {
                ::kill(helper.pid, SIGKILL);
                ::waitpid(helper.pid, nullptr, 0);
                break;
            }
            QThread::msleep(5);
        }
    }
}

QByteArray ScryptProcesses::scrypt(const QByteArray &password, const QByteArray &salt, const ScryptParams &params)
{
    const std::string request = ScryptHelper::encodeRequest(
            {password.toStdString(), salt.toStdString(), params});
    Helper helper = takeHelper();
    // A helper that died since its last hash is replaced once; a second failure means
    // helpers cannot run right now. One that timed out is not: its successor would get no
    // more CPU than it did.
    bool timedOut = false;
    for (int attempt = 0; attempt < 2 && !timedOut; ++attempt) {
        if (!helper.isRunning())
            helper = spawn();
        if (!helper.isRunning())
            break;
        QByteArray key;
        const Outcome outcome = exchange(helper, request, &key);
        if (outcome == Outcome::Answered) {
            returnHelper(helper);
            return key;
        }
        const pid_t pid = helper.pid;
        discard(helper);
        timedOut = outcome == Outcome::TimedOut;
        if (timedOut) {
            qCWarning(lcScrypt, "scrypt helper %d did not answer within %d ms at %s priority (the CPUs are saturated?): "
                                "hashing in the server process", int(pid), m_options.answerTimeoutMs,
                      ScryptHelper::priorityName(m_options.priority));
        } else {
            qCWarning(lcScrypt, "scrypt helper %d failed; starting another", int(pid));
        }
    }
    returnHelper(helper);
    if (!timedOut)
        qCWarning(lcScrypt, "no scrypt helper could run: hashing in the server process");
    return scryptKey(password, salt, params);
}

std::vector<pid_t> ScryptProcesses::idleHelperPids() const
{
    QMutexLocker lock(&m_mutex);
    std::vector<pid_t> pids;
    for (const Helper &helper : m_free) {
        if (helper.isRunning())
            pids.push_back(helper.pid);
    }
    return pids;
}

ScryptProcesses::Helper ScryptProcesses::takeHelper()
{
    QMutexLocker lock(&m_mutex);
    while (m_free.empty())
        m_helperReturned.wait(&m_mutex);
    // The longest-idle one: helpers take turns, so a dead one is found by the next hash or two.
    const Helper helper = m_free.front();
    m_free.erase(m_free.begin());
    return helper;
}

void ScryptProcesses::returnHelper(Helper helper)
{
    QMutexLocker lock(&m_mutex);
    m_free.push_back(helper);
    m_helperReturned.wakeOne();
}

ScryptProcesses::Helper ScryptProcesses::spawn() const
{
    int sockets[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) {
        qCWarning(lcScrypt, "cannot start an scrypt helper: socketpair: %s", std::strerror(errno));
        return {};
    }
    const int ours = sockets[0];
    const int theirs = aboveStandardStreams(sockets[1]);

    const QByteArray program = m_options.program.toLocal8Bit();
    char *argv[] = {const_cast<char *>(program.constData()), const_cast<char *>("--priority"),
                    const_cast<char *>(ScryptHelper::priorityName(m_options.priority)), nullptr};

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, theirs, STDIN_FILENO);   // dup2 clears close-on-exec
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    // Signals blocked by the spawning thread stay blocked in the child; start with none.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);

    const std::vector<QByteArray> environment = helperEnvironment();
    std::vector<char *> envp;
    for (const QByteArray &variable : environment)
        envp.push_back(const_cast<char *>(variable.constData()));
    envp.push_back(nullptr);

    pid_t pid = -1;
    const int failure = ::posix_spawn(&pid, program.constData(), &actions, &attributes, argv, envp.data());
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    ::close(theirs);
    if (failure != 0) {
        qCWarning(lcScrypt, "cannot start an scrypt helper (%s): %s", program.constData(), std::strerror(failure));
        ::close(ours);
        return {};
    }
    return {ours, pid};
}

void ScryptProcesses::discard(Helper &helper)
{
    if (!helper.isRunning())
        return;
    ::close(helper.fd);
    ::kill(helper.pid, SIGKILL);
    ::waitpid(helper.pid, nullptr, 0);
    helper = {};
}

ScryptProcesses::Outcome ScryptProcesses::exchange(const Helper &helper, const std::string &request, QByteArray *key) const
{
    if (!ScryptHelper::writeFully(helper.fd, request))
        return Outcome::Failed;
    // The first byte takes as long as the hash; what follows is already on its way.
    pollfd answer = {helper.fd, POLLIN, 0};
    int ready;
    do {
        ready = ::poll(&answer, 1, m_options.answerTimeoutMs);
    } while (ready < 0 && errno == EINTR);
    if (ready == 0)
        return Outcome::TimedOut;
    char header[ScryptHelper::kResponseHeaderBytes];
    if (ready < 0 || !ScryptHelper::readFully(helper.fd, header, sizeof header, m_options.answerTimeoutMs))
        return Outcome::Failed;
    const int keySize = ScryptHelper::decodeResponseHeader(header);
    if (keySize < 0)
        return Outcome::Failed;
    key->resize(keySize);
    return ScryptHelper::readFully(helper.fd, key->data(), size_t(keySize), m_options.answerTimeoutMs)
        ? Outcome::Answered : Outcome::Failed;
}

} // namespace Kernia::Server
