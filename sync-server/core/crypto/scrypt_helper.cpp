#include "scrypt_helper.h"

#include <QString>
#include <QtEndian>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace Kernia::Server::ScryptHelper {

namespace {

constexpr char kRequestMagic[4] = {'K', 'S', 'R', '1'};
constexpr char kResponseMagic[4] = {'K', 'S', 'A', '1'};

template <typename T>
void append(QByteArray &out, T value)
{
    const T little = qToLittleEndian(value);
    out.append(reinterpret_cast<const char *>(&little), sizeof little);
}

template <typename T>
T take(const char *&in)
{
    const T value = qFromLittleEndian<T>(in);
    in += sizeof(T);
    return value;
}

} // namespace

bool readFully(int fd, char *data, qsizetype size, int timeoutMs)
{
    while (size > 0) {
        if (timeoutMs >= 0) {
            pollfd readable = {fd, POLLIN, 0};
            const int ready = ::poll(&readable, 1, timeoutMs);
            if (ready < 0 && errno == EINTR)
                continue;
            if (ready <= 0)
                return false;
        }
        const ssize_t got = ::read(fd, data, size_t(size));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return false;
        data += got;
        size -= got;
    }
    return true;
}

bool writeFully(int fd, const QByteArray &bytes)
{
    const char *data = bytes.constData();
    qsizetype left = bytes.size();
    while (left > 0) {
        // MSG_NOSIGNAL: a peer that went away is an EPIPE here, not a SIGPIPE.
        const ssize_t sent = ::send(fd, data, size_t(left), MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent <= 0)
            return false;
        data += sent;
        left -= sent;
    }
    return true;
}

QByteArray encodeRequest(const Request &request)
{
    QByteArray out;
    out.reserve(kRequestHeaderBytes + request.password.size() + request.salt.size());
    out.append(kRequestMagic, sizeof kRequestMagic);
    append<quint64>(out, request.params.n);
    append<quint32>(out, request.params.r);
    append<quint32>(out, request.params.p);
    append<quint32>(out, quint32(qMax(0, request.params.keyLength)));
    append<quint32>(out, quint32(request.password.size()));
    append<quint32>(out, quint32(request.salt.size()));
    out.append(request.password);
    out.append(request.salt);
    return out;
}

std::optional<Request> decodeRequestHeader(const char *header, quint32 *passwordSize, quint32 *saltSize)
{
    if (std::memcmp(header, kRequestMagic, sizeof kRequestMagic) != 0)
        return std::nullopt;
    const char *in = header + sizeof kRequestMagic;
    Request request;
    request.params.n = take<quint64>(in);
    request.params.r = take<quint32>(in);
    request.params.p = take<quint32>(in);
    const quint32 keyLength = take<quint32>(in);
    *passwordSize = take<quint32>(in);
    *saltSize = take<quint32>(in);
    if (keyLength > kMaxKeyBytes || *passwordSize > kMaxPasswordBytes || *saltSize > kMaxSaltBytes)
        return std::nullopt;
    request.params.keyLength = int(keyLength);
    return request;
}

QByteArray encodeResponse(const QByteArray &key)
{
    QByteArray out;
    out.reserve(kResponseHeaderBytes + key.size());
    out.append(kResponseMagic, sizeof kResponseMagic);
    append<quint32>(out, quint32(key.size()));
    out.append(key);
    return out;
}

int decodeResponseHeader(const char *header)
{
    if (std::memcmp(header, kResponseMagic, sizeof kResponseMagic) != 0)
        return -1;
    const char *in = header + sizeof kResponseMagic;
    const quint32 keySize = take<quint32>(in);
    return keySize <= kMaxKeyBytes ? int(keySize) : -1;
}

int serve(int fd)
{
    char header[kRequestHeaderBytes];
    for (;;) {
        if (!readFully(fd, header, 1))
            return 0;   // the server closed its end: it is exiting
        if (!readFully(fd, header + 1, sizeof header - 1))
            return 1;
        quint32 passwordSize = 0, saltSize = 0;
        std::optional<Request> request = decodeRequestHeader(header, &passwordSize, &saltSize);
        if (!request)
            return 1;
        request->password.resize(passwordSize);
        request->salt.resize(saltSize);
        if (!readFully(fd, request->password.data(), passwordSize) || !readFully(fd, request->salt.data(), saltSize))
            return 1;
        const QByteArray key = scryptKey(request->password, request->salt, request->params);
        // The password leaves this process's memory as soon as it is hashed.
        request->password.fill('\0');
        if (!writeFully(fd, encodeResponse(key)))
            return 1;
    }
}

} // namespace Kernia::Server::ScryptHelper

namespace Kernia::Server::ScryptHelper {

std::optional<Priority> priorityFromName(QStringView name)
{
    for (Priority priority : {Priority::Idle, Priority::Low, Priority::Normal}) {
        if (name == QLatin1String(priorityName(priority)))
            return priority;
    }
    return std::nullopt;
}

const char *priorityName(Priority priority)
{
    switch (priority) {
    case Priority::Idle: return "idle";
    case Priority::Low: return "low";
    case Priority::Normal: return "normal";
    }
    return "normal";
}

namespace {

// Lowering one's own priority needs no privilege. A failure only costs the server some
// latency during sign-ups, so it is reported and the helper serves anyway.
void takePriority(Priority priority)
{
    if (priority == Priority::Idle) {
        const sched_param parameters = {};
        if (::sched_setscheduler(0, SCHED_IDLE, &parameters) != 0)
            std::perror("kernia-server scrypt-helper: sched_setscheduler(SCHED_IDLE)");
    } else if (priority == Priority::Low) {
        errno = 0;
        const int nice = ::getpriority(PRIO_PROCESS, 0);
        if (errno != 0 || ::setpriority(PRIO_PROCESS, 0, qMin(19, nice + 10)) != 0)
            std::perror("kernia-server scrypt-helper: setpriority");
    }
}

} // namespace

int runHelperProcess(int argc, char *argv[])
{
    std::optional<Priority> priority = Priority::Normal;
    if (argc == 4 && std::strcmp(argv[2], "--priority") == 0)
        priority = priorityFromName(QString::fromLocal8Bit(argv[3]));
    if (!priority || (argc != 2 && argc != 4)) {
        std::fprintf(stderr, "usage: kernia-server scrypt-helper [--priority idle|low|normal]"
                             " (kernia-server starts its helpers itself)\n");
        return 2;
    }
    // A descriptor the server forgot to mark close-on-exec (a database socket, a lock
    // file) must not live on in the helper.
    ::close_range(STDERR_FILENO + 1, ~0U, 0);
    takePriority(*priority);
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGTERM, SIG_IGN);
    std::signal(SIGHUP, SIG_IGN);
    std::signal(SIGPIPE, SIG_IGN);
    return serve(STDIN_FILENO);
}

} // namespace Kernia::Server::ScryptHelper
