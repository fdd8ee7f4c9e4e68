// The helper side of scrypt_processes.h, and the wire format between the server and its
// kernia-scrypt-helper processes. No Qt: the helper executable links only this,
// scrypt_kdf.cpp and libsodium, so each helper costs ~2 MiB besides its hash's 32 MiB.
//
//     request:  "KSR1" | n u64 | r u32 | p u32 | keyLength u32 | passwordSize u32 | saltSize u32
//               | password | salt                                      (little-endian)
//     response: "KSA1" | keySize u32 | key        (keySize 0: scrypt refused the parameters)
#pragma once

#include "scrypt_kdf.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace Kernia::Server::ScryptHelper {

// How helpers compete for the CPU with the server's request threads (--hash-priority).
enum class Priority {
    Idle,     // SCHED_IDLE: a hash runs only on a CPU nothing else wants (the default)
    Low,      // nice +10: about a tenth of a busy CPU
    Normal,   // the server's own priority
};
std::optional<Priority> priorityFromName(std::string_view name);   // "idle" | "low" | "normal"
const char *priorityName(Priority priority);

// Larger requests are refused by the helper (it exits): a password is at most a request
// body, and Better Auth's parameters need a 64-byte key.
constexpr std::uint32_t kMaxPasswordBytes = 1024 * 1024;
constexpr std::uint32_t kMaxSaltBytes = 1024;
constexpr std::uint32_t kMaxKeyBytes = 1024;
constexpr std::size_t kRequestHeaderBytes = 4 + 8 + 4 * 5;   // magic, n, r, p, keyLength, the two sizes
constexpr std::size_t kResponseHeaderBytes = 4 + 4;

struct Request
{
    std::string password;
    std::string salt;
    ScryptParams params;
};

std::string encodeRequest(const Request &request);
// The parameters of a request header and the sizes of the password and salt after it, or
// nothing for a header that is not one (wrong magic, sizes over the limits).
std::optional<Request> decodeRequestHeader(const char *header, std::uint32_t *passwordSize, std::uint32_t *saltSize);

std::string encodeResponse(std::string_view key);
// The key size that follows a response header, or -1 for a header that is not one.
int decodeResponseHeader(const char *header);

// Both ends: exactly `size` bytes, retrying short reads and writes. False at end of input,
// on an error, or when nothing arrives for `timeoutMs` (-1: wait forever). Writes never
// raise SIGPIPE.
bool readFully(int fd, char *data, std::size_t size, int timeoutMs = -1);
bool writeFully(int fd, std::string_view bytes);

// Answers requests on `fd` one at a time until the other end closes it. Returns the exit
// code: 0 at end of input, 1 on a malformed request or an I/O error.
int serve(int fd);

// kernia-scrypt-helper's main: `kernia-scrypt-helper [--priority idle|low|normal]`. Closes
// every inherited descriptor but the standard ones, takes the priority, ignores
// SIGINT/SIGTERM/SIGHUP (it ends when the server closes the socket on stdin, so a graceful
// shutdown can still finish its hashes) and serves stdin. Returns the exit code (2 for bad
// arguments).
int runHelperProcess(int argc, char *argv[]);

} // namespace Kernia::Server::ScryptHelper
