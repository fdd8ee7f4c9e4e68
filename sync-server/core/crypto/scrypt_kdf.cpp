#include "scrypt_kdf.h"

#include <sodium.h>

namespace Kernia::Server {

namespace {

// One hash may use at most this much memory (128·r·(N+p) bytes); Better Auth's N=16384,
// r=16 needs 32 MiB. Larger parameters are refused rather than risking the process.
constexpr std::uint64_t kMaxScryptMemory = std::uint64_t(1) << 30;

} // namespace

bool validScryptParams(const ScryptParams &params)
{
    const std::uint64_t n = params.n;
    const std::uint64_t r = params.r;
    const std::uint64_t p = params.p;
    if (params.keyLength <= 0 || n < 2 || (n & (n - 1)) != 0 || r == 0 || p == 0)
        return false;
    return n <= kMaxScryptMemory / 128 / r && p <= kMaxScryptMemory / 128 / r
        && 128 * r * (n + p) <= kMaxScryptMemory;
}

// libsodium's scrypt, not OpenSSL's: the same bytes, but its SIMD salsa20/8 core takes
// ~60 ms for Better Auth's parameters where OpenSSL's portable C takes ~100 ms (and Node,
// which the reference server uses, ~93 ms). Sign-up cost is this number.
std::string scryptKdf(std::string_view password, std::string_view salt, const ScryptParams &params)
{
    static const bool sodiumReady = sodium_init() >= 0;   // thread-safe, idempotent
    if (!sodiumReady || !validScryptParams(params))
        return {};
    std::string key(std::size_t(params.keyLength), '\0');
    if (crypto_pwhash_scryptsalsa208sha256_ll(
                reinterpret_cast<const std::uint8_t *>(password.data()), password.size(),
                reinterpret_cast<const std::uint8_t *>(salt.data()), salt.size(),
                params.n, params.r, params.p,
                reinterpret_cast<std::uint8_t *>(key.data()), key.size()) != 0) {
        return {};
    }
    return key;
}

} // namespace Kernia::Server
