#include "scrypt_helper.h"

#include <algorithm>
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
void append(std::string &out, T value)
{
    for (std::size_t i = 0; i < sizeof(T); ++i)
        out.push_back(char((value >> (8 * i)) & 0xff));
}

template <typename T>
T take(const char *&in)
{
    T value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
        value |= T(static_cast<unsigned char>(in[i])) << (8 * i);
    in += sizeof(T);
    return value;
}

// Lowering one's own priority needs no privilege. A failure only costs the server some
// latency during sign-ups, so it is reported and the helper serves anyway.
void takePriority(Priority priority)
{
    if (priority == Priority::Idle) {
        const sched_param parameters = {};
        if (::sched_setscheduler(0, SCHED_IDLE, &parameters) != 0)
            std::perror("kernia-scrypt-helper: sched_setscheduler(SCHED_IDLE)");
    } else if (priority == Priority::Low) {
        errno = 0;
        const int nice = ::getpriority(PRIO_PROCESS, 0);
        if (errno != 0 || ::setpriority(PRIO_PROCESS, 0, nice + 10 > 19 ? 19 : nice + 10) != 0)
            std::perror("kernia-scrypt-helper: setpriority");
    }
}

} // namespace

std::optional<Priority> priorityFromName(std::string_view name)
{
    for (Priority priority : {Priority::Idle, Priority::Low, Priority::Normal}) {
        if (name == priorityName(priority))
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

bool readFully(int fd, char *data, std::size_t size, int timeoutMs)
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
        const ssize_t got = ::read(fd, data, size);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return false;
        data += got;
        size -= std::size_t(got);
    }
    return true;
}

bool writeFully(int fd, std::string_view bytes)
{
    while (!bytes.empty()) {
        // MSG_NOSIGNAL: a peer that went away is an EPIPE here, not a SIGPIPE.
        const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent <= 0)
            return false;
        bytes.remove_prefix(std::size_t(sent));
    }
    return true;
}

std::string encodeRequest(const Request &request)
{
    std::string out;
    out.reserve(kRequestHeaderBytes + request.password.size() + request.salt.size());
    out.append(kRequestMagic, sizeof kRequestMagic);
    append<std::uint64_t>(out, request.params.n);
    append<std::uint32_t>(out, request.params.r);
    append<std::uint32_t>(out, request.params.p);
    append<std::uint32_t>(out, std::uint32_t(request.params.keyLength > 0 ? request.params.keyLength : 0));
    append<std::uint32_t>(out, std::uint32_t(request.password.size()));
    append<std::uint32_t>(out, std::uint32_t(request.salt.size()));
    out += request.password;
    out += request.salt;
    return out;
}

std::optional<Request> decodeRequestHeader(const char *header, std::uint32_t *passwordSize, std::uint32_t *saltSize)
{
    if (std::memcmp(header, kRequestMagic, sizeof kRequestMagic) != 0)
        return std::nullopt;
    const char *in = header + sizeof kRequestMagic;
    Request request;
    request.params.n = take<std::uint64_t>(in);
    request.params.r = take<std::uint32_t>(in);
    request.params.p = take<std::uint32_t>(in);
    const std::uint32_t keyLength = take<std::uint32_t>(in);
    *passwordSize = take<std::uint32_t>(in);
    *saltSize = take<std::uint32_t>(in);
    if (keyLength > kMaxKeyBytes || *passwordSize > kMaxPasswordBytes || *saltSize > kMaxSaltBytes)
        return std::nullopt;
    request.params.keyLength = int(keyLength);
    return request;
}

std::string encodeResponse(std::string_view key)
{
    std::string out;
    out.reserve(kResponseHeaderBytes + key.size());
    out.append(kResponseMagic, sizeof kResponseMagic);
    append<std::uint32_t>(out, std::uint32_t(key.size()));
    out += key;
    return out;
}

int decodeResponseHeader(const char *header)
{
    if (std::memcmp(header, kResponseMagic, sizeof kResponseMagic) != 0)
        return -1;
    const char *in = header + sizeof kResponseMagic;
    const std::uint32_t keySize = take<std::uint32_t>(in);
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
        std::uint32_t passwordSize = 0, saltSize = 0;
        std::optional<Request> request = decodeRequestHeader(header, &passwordSize, &saltSize);
        if (!request)
            return 1;
        request->password.resize(passwordSize);
        request->salt.resize(saltSize);
        if (!readFully(fd, request->password.data(), passwordSize) || !readFully(fd, request->salt.data(), saltSize))
            return 1;
        const std::string key = scryptKdf(request->password, request->salt, request->params);
        // The password leaves this process's memory as soon as it is hashed.
        std::fill(request->password.begin(), request->password.end(), '\0');
        if (!writeFully(fd, encodeResponse(key)))
            return 1;
    }
}

int runHelperProcess(int argc, char *argv[])
{
    std::optional<Priority> priority;
    if (argc == 1)
        priority = Priority::Normal;
    else if (argc == 3 && std::strcmp(argv[1], "--priority") == 0)
        priority = priorityFromName(argv[2]);
    if (!priority) {
        std::fprintf(stderr, "usage: kernia-scrypt-helper [--priority idle|low|normal]"
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
