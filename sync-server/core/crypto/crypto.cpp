#include "crypto.h"

#include "openssl_raii.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <QDateTime>
#include <QtGlobal>

#include <cstring>

namespace Kernia::Server::Crypto {

namespace {

// EVP_MAC_init treats a null key as "no key given"; an empty key must still be a key.
const unsigned char *keyBytes(QByteArrayView key)
{
    static const unsigned char empty = 0;
    return key.isEmpty() ? &empty : reinterpret_cast<const unsigned char *>(key.data());
}

// An HMAC-SHA256 context with the digest chosen, one per thread, keyed with the last key
// that thread used. Fetching "HMAC" and "SHA256" is a locked table lookup in OpenSSL 3,
// and keying a context costs a copy and two SHA-256 blocks; the server signs nearly
// everything with its one secret, so re-initialising the keyed context (a null key: OpenSSL
// restores the precomputed key state) is all most calls pay. Null when OpenSSL fails.
EVP_MAC_CTX *hmacSha256For(QByteArrayView key)
{
    struct Keyed
    {
        Ossl::MacCtxPtr ctx;
        QByteArray key;
        bool keyed = false;
        Keyed()
        {
            const Ossl::MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
            ctx.reset(mac ? EVP_MAC_CTX_new(mac.get()) : nullptr);   // holds its own ref
            char digest[] = "SHA256";
            const OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                OSSL_PARAM_construct_end(),
            };
            if (ctx && EVP_MAC_CTX_set_params(ctx.get(), params) != 1)
                ctx.reset();
        }
        ~Keyed() { OPENSSL_cleanse(key.data(), size_t(key.size())); }
    };
    thread_local Keyed keyed;
    if (!keyed.ctx)
        return nullptr;
    const bool sameKey = keyed.keyed && keyed.key.size() == key.size()
        && CRYPTO_memcmp(keyed.key.constData(), keyBytes(key), size_t(key.size())) == 0;
    if (sameKey)
        return EVP_MAC_init(keyed.ctx.get(), nullptr, 0, nullptr) == 1 ? keyed.ctx.get() : nullptr;
    OPENSSL_cleanse(keyed.key.data(), size_t(keyed.key.size()));
    keyed.keyed = EVP_MAC_init(keyed.ctx.get(), keyBytes(key), size_t(key.size()), nullptr) == 1;
    keyed.key = keyed.keyed ? key.toByteArray() : QByteArray();
    return keyed.keyed ? keyed.ctx.get() : nullptr;
}

// RAND_bytes costs about a microsecond per call in OpenSSL 3 (a provider call and a lock
// on the thread's DRBG), and a sign-in draws ids and a token in several small calls. So
// each thread draws a block at once and hands it out; a byte handed out is wiped from
// the block, so the memory never holds randomness that has already been used.
void fillRandom(unsigned char *out, int count)
{
    struct Block
    {
        unsigned char bytes[512];
        int next = sizeof bytes;   // empty until the first draw
        ~Block() { OPENSSL_cleanse(bytes, sizeof bytes); }
    };
    thread_local Block block;
    constexpr int blockSize = int(sizeof block.bytes);
    const auto draw = [](unsigned char *into, int size) {
        if (RAND_bytes(into, size) != 1)
            qFatal("Kernia: RAND_bytes failed; refusing to continue without a working CSPRNG");
    };
    if (count >= blockSize) {   // a large draw gains nothing from the block
        draw(out, count);
        return;
    }
    while (count > 0) {
        if (block.next == blockSize) {
            draw(block.bytes, blockSize);
            block.next = 0;
        }
        const int taken = qMin(count, blockSize - block.next);
        memcpy(out, block.bytes + block.next, size_t(taken));
        OPENSSL_cleanse(block.bytes + block.next, size_t(taken));
        block.next += taken;
        out += taken;
        count -= taken;
    }
}

} // namespace

QByteArray hmacSha256(QByteArrayView key, QByteArrayView message)
{
    EVP_MAC_CTX *const ctx = hmacSha256For(key);
    if (!ctx)
        return {};
    QByteArray out(EVP_MAX_MD_SIZE, Qt::Uninitialized);
    size_t outLength = 0;
    if (EVP_MAC_update(ctx, reinterpret_cast<const unsigned char *>(message.data()), size_t(message.size())) != 1
        || EVP_MAC_final(ctx, reinterpret_cast<unsigned char *>(out.data()), &outLength, size_t(out.size())) != 1) {
        return {};
    }
    out.truncate(qsizetype(outLength));
    return out;
}

QByteArray sha256(QByteArrayView data)
{
    QByteArray out(EVP_MAX_MD_SIZE, Qt::Uninitialized);
    size_t outLength = 0;
    if (EVP_Q_digest(nullptr, "SHA256", nullptr, data.data(), size_t(data.size()),
                     reinterpret_cast<unsigned char *>(out.data()), &outLength) != 1) {
        return {};
    }
    out.truncate(qsizetype(outLength));
    return out;
}

bool constantTimeEquals(QByteArrayView a, QByteArrayView b)
{
    // The length is not secret (MACs and hashes have fixed sizes), only the content is.
    if (a.size() != b.size())
        return false;
    if (a.isEmpty())
        return true;
    return CRYPTO_memcmp(a.data(), b.data(), size_t(a.size())) == 0;
}

QByteArray randomBytes(int count)
{
    if (count <= 0)
        return {};
    QByteArray out(count, Qt::Uninitialized);
    fillRandom(reinterpret_cast<unsigned char *>(out.data()), count);
    return out;
}

QString randomString(int length, QStringView alphabet)
{
    const qsizetype size = alphabet.size();
    if (length <= 0 || size <= 0)
        return {};
    if (size > 65536)
        return {}; // unreachable in practice; keeps the 16-bit sampling below valid

    // Draw 16-bit values and reject the top partial bucket, so every character is
    // equally likely (a plain `v % size` would favour the first characters).
    constexpr quint32 range = 65536;
    const quint32 limit = range - range % quint32(size);

    QString out;
    out.reserve(length);
    while (out.size() < length) {
        const QByteArray batch = randomBytes(2 * (length - int(out.size())) + 16);
        for (qsizetype i = 0; i + 1 < batch.size() && out.size() < length; i += 2) {
            const quint32 v = quint32(quint8(batch[i])) << 8 | quint8(batch[i + 1]);
            if (v < limit)
                out.append(alphabet[v % quint32(size)]);
        }
    }
    return out;
}

QString randomId()
{
    static constexpr char16_t alphabet[] =
            u"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    return randomString(32, QStringView(alphabet, 62));
}

QString sortableId()
{
    static constexpr char16_t base36[] = u"0123456789abcdefghijklmnopqrstuvwxyz";
    constexpr int timeDigits = 9;   // 36^9 ms reach the year 5188
    static constexpr char16_t alphabet[] =
            u"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // Lower-case digits only in the prefix: byte order and PostgreSQL's locale collations
    // then agree on the order.
    quint64 ms = quint64(qMax<qint64>(0, QDateTime::currentMSecsSinceEpoch()));
    QString id(timeDigits, Qt::Uninitialized);
    for (int i = timeDigits - 1; i >= 0; --i) {
        id[i] = QChar(base36[ms % 36]);
        ms /= 36;
    }
    return id + randomString(32 - timeDigits, QStringView(alphabet, 62));
}

} // namespace Kernia::Server::Crypto
