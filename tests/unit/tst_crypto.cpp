// Unit tests for crypto/crypto.h and crypto/password.h.
#include "crypto/crypto.h"
#include "crypto/password.h"

#include <QDateTime>
#include <QRegularExpression>
#include <QSet>
#include <QtTest>

#include <atomic>

using namespace Kernia::Server;

namespace {

// Hashes in Better Auth's stored format, computed independently with Python:
//   salt + ":" + hashlib.scrypt(unicodedata.normalize("NFKC", pw).encode(),
//       salt=salt.encode(), n=16384, r=16, p=1, dklen=64, maxmem=67108864).hex()
// (The protocol transcripts record no scrypt hash, so these are the known answers.)
const QString horseHash = QStringLiteral(
        "3f9c2a7b1e8d4c6f0a5b9e2d7c1f4a8b:"
        "ecc9de119579a6e4201d4b33602a514e4856802776f60f7a9b205491bb96af9f"
        "95cc6b40fe83bef1a1c1fcf42a8c510f84cf860f4e12c47d9dc63422c2a4e9b3");
const QString horsePassword = QStringLiteral("correct horse battery staple");

// Made by Better Auth itself: better-auth 1.7.25's `hashPassword` from "better-auth/crypto"
// (tests/js/node_modules), recorded on 2026-11-23 — the hash a database exported from a
// Better Auth deployment holds.
const QString recordedBetterAuthHash = QStringLiteral(
    "f3fd4489d61834304d061ed8f4881d82:"
    "d7ffc7769318c5eddb72ffca0e0973f91115df19b6a8d20cf591d84b2a2a4916"
    "2a0fa9cbb798a693be4d7ac00038f07e5bc711eebbf6e3f969c66004cee199a3");

// Password "file-XII-pässword", the NFKC form of "\uFB01le-\u216B-pässword".
const QString nfkcHash = QStringLiteral(
        "0123456789abcdef0123456789abcdef:"
        "fecaddf6dc7032f10fe75e60a6975927fc6678a900ce713c138966d55ca78790"
        "91d0d7d92c37d0c2a800b4b87812a869e537651380e75f26960be92a78f4a5ac");

// Empty password.
const QString emptyHash = QStringLiteral(
        "00000000000000000000000000000000:"
        "7202489379a26018840bf634ac9eeaa5f61bd04173abb4ae394423d4218470a0"
        "cb7245f6c5b00b732c16250d14f6d421cbad6d85b0faceaf95d9207eb31a6e6c");

// Cheap parameters (N=1024, r=8, 32-byte key), same format: hashlib.scrypt(b"pw", ...).
const ScryptParams smallParams{ 1024, 8, 1, 32 };
const QString smallHash = QStringLiteral(
        "c0ffee00c0ffee00c0ffee00c0ffee00:"
        "ee8b4171224c40a25a6fba82b08c45644c40209d30f12ed8bc146c7c272cd703");

} // namespace

class TestCrypto : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void hmacKnownAnswers();
    void sha256KnownAnswers();
    void constantTimeEquals();
    void randomBytes();
    void randomBytesNeverRepeatAcrossBlocksAndThreads();
    void randomString();
    void randomStringIsUniform();
    void randomId();
    void sortableIdIsOrderedByTime();

    void verifiesBetterAuthHash();
    void rejectsWrongPassword();
    void rejectsMalformedHash_data();
    void rejectsMalformedHash();
    void acceptsUpperCaseKeyHex();
    void normalisesToNfkc();
    void verifiesEmptyPassword();
    void hashHasBetterAuthShape();
    void customParameters();
    void invalidParametersGiveEmptyHash();
};

void TestCrypto::hmacKnownAnswers()
{
    QCOMPARE(Crypto::hmacSha256("key", "The quick brown fox jumps over the lazy dog").toHex(),
             QByteArray("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"));
    // An empty key is still a key (OpenSSL treats a null key pointer as "none given").
    QCOMPARE(Crypto::hmacSha256("", "").toHex(),
             QByteArray("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"));
    QCOMPARE(Crypto::hmacSha256(QByteArrayView(), QByteArrayView()).size(), 32);

    // Each thread keeps its context keyed with the last key: switching keys, repeating one,
    // and a key longer than SHA-256's block (hashed first) must all give the known answers.
    struct Vector { QByteArray key, message, mac; };
    const QList<Vector> vectors = {
        {"Jefe", "what do ya want for nothing?",   // RFC 4231, test case 2
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {"jefe", "what do ya want for nothing?",   // a key of the same length (Python's hmac)
         "f5886a2776d40a671830efd161726e21b7dbd9f0d3a5515428de35324eacaadb"},
        {QByteArray(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",   // case 6
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {"key", "The quick brown fox jumps over the lazy dog",
         "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"},
        {"", "", "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"},
        {"Jefe", "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    };
    for (int round = 0; round < 3; ++round) {
        for (const Vector &v : vectors) {
            QCOMPARE(Crypto::hmacSha256(v.key, v.message).toHex(), v.mac);
            QCOMPARE(Crypto::hmacSha256(v.key, v.message).toHex(), v.mac);   // the same key again
        }
    }
    std::atomic<int> wrong{0};
    QList<QThread *> threads;
    for (int t = 0; t < 3; ++t) {
        threads.append(QThread::create([&vectors, &wrong, t] {
            for (int i = 0; i < 2000; ++i) {
                const Vector &v = vectors[(i * (t + 1)) % vectors.size()];
                if (Crypto::hmacSha256(v.key, v.message).toHex() != v.mac)
                    ++wrong;
            }
        }));
        threads.last()->start();
    }
    for (QThread *thread : std::as_const(threads)) {
        QVERIFY(thread->wait(30000));
        delete thread;
    }
    QCOMPARE(wrong.load(), 0);
}

void TestCrypto::sha256KnownAnswers()
{
    QCOMPARE(Crypto::sha256("").toHex(),
             QByteArray("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    QCOMPARE(Crypto::sha256("abc").toHex(),
             QByteArray("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

void TestCrypto::constantTimeEquals()
{
    QVERIFY(Crypto::constantTimeEquals("abc", "abc"));
    QVERIFY(Crypto::constantTimeEquals("", ""));
    QVERIFY(Crypto::constantTimeEquals(QByteArrayView(), ""));
    QVERIFY(!Crypto::constantTimeEquals("abc", "abd"));
    QVERIFY(!Crypto::constantTimeEquals("abc", "ab"));
    QVERIFY(!Crypto::constantTimeEquals("", "a"));
    QVERIFY(Crypto::constantTimeEquals(QByteArray("a\0b", 3), QByteArray("a\0b", 3)));
    QVERIFY(!Crypto::constantTimeEquals(QByteArray("a\0b", 3), QByteArray("a\0c", 3)));
}

void TestCrypto::randomBytes()
{
    QCOMPARE(Crypto::randomBytes(0), QByteArray());
    QCOMPARE(Crypto::randomBytes(-5), QByteArray());
    const QByteArray a = Crypto::randomBytes(32);
    const QByteArray b = Crypto::randomBytes(32);
    QCOMPARE(a.size(), 32);
    QCOMPARE(b.size(), 32);
    QVERIFY(a != b);
}

// Small draws come from a per-thread block that is wiped as it is handed out: a slip in
// its bookkeeping would hand out wiped (zero) bytes or the same bytes twice.
void TestCrypto::randomBytesNeverRepeatAcrossBlocksAndThreads()
{
    const QList<int> sizes = {1, 7, 16, 31, 200, 511, 512, 513, 4096};
    for (int size : sizes)
        QCOMPARE(Crypto::randomBytes(size).size(), size);

    constexpr int threads = 4;
    constexpr int drawsPerThread = 5000;   // ~160 blocks each
    QList<QList<QByteArray>> drawn(threads);
    QList<QThread *> workers;
    for (int t = 0; t < threads; ++t) {
        workers.append(QThread::create([&drawn, t] {
            for (int i = 0; i < drawsPerThread; ++i)
                drawn[t].append(Crypto::randomBytes(16));
        }));
        workers.last()->start();
    }
    for (QThread *worker : std::as_const(workers)) {
        QVERIFY(worker->wait(30000));
        delete worker;
    }
    QSet<QByteArray> seen;
    const QByteArray zeros(16, '\0');
    for (const auto &list : std::as_const(drawn)) {
        QCOMPARE(list.size(), drawsPerThread);
        for (const QByteArray &bytes : list) {
            QVERIFY(bytes != zeros);
            seen.insert(bytes);
        }
    }
    QCOMPARE(seen.size(), threads * drawsPerThread);
}

void TestCrypto::randomString()
{
    QCOMPARE(Crypto::randomString(0, u"abc"), QString());
    QCOMPARE(Crypto::randomString(10, u""), QString());
    QCOMPARE(Crypto::randomString(5, u"x"), QStringLiteral("xxxxx"));
    const QString s = Crypto::randomString(1000, u"ab-_");
    QCOMPARE(s.size(), 1000);
    QVERIFY(QRegularExpression(QStringLiteral("^[ab_-]+$")).match(s).hasMatch());
}

void TestCrypto::randomStringIsUniform()
{
    // An alphabet whose size does not divide 65536: every letter must still show up
    // about equally often (loose bounds, ~8 sigma, so the test never flakes).
    const QString alphabet = QStringLiteral("abcdefg");
    const int samples = 70000;
    const QString s = Crypto::randomString(samples, alphabet);
    QCOMPARE(s.size(), samples);
    for (const QChar c : alphabet) {
        const int count = int(s.count(c));
        QVERIFY2(count > 9200 && count < 10800, qPrintable(QStringLiteral("%1: %2").arg(c).arg(count)));
    }
}

void TestCrypto::randomId()
{
    const QRegularExpression shape(QStringLiteral("^[A-Za-z0-9]{32}$"));
    QSet<QString> seen;
    for (int i = 0; i < 1000; ++i) {
        const QString id = Crypto::randomId();
        QVERIFY2(shape.match(id).hasMatch(), qPrintable(id));
        seen.insert(id);
    }
    QCOMPARE(seen.size(), 1000);
}

void TestCrypto::sortableIdIsOrderedByTime()
{
    const QRegularExpression shape(QStringLiteral("^[0-9a-z]{9}[A-Za-z0-9]{23}$"));
    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    const QString first = Crypto::sortableId();
    QVERIFY2(shape.match(first).hasMatch(), qPrintable(first));
    bool ok = false;
    const qint64 stamped = first.left(9).toLongLong(&ok, 36);   // the creation time, in ms
    QVERIFY(ok);
    QVERIFY(stamped >= before && stamped <= QDateTime::currentMSecsSinceEpoch());

    QTest::qWait(3);
    const QString later = Crypto::sortableId();
    QVERIFY2(first < later, qPrintable(first + QLatin1String(" !< ") + later));
    QVERIFY(QString::compare(first.toLower(), later.toLower()) < 0);   // anonymous e-mail addresses use it lower-cased

    QSet<QString> seen;   // ids made in the same millisecond still differ
    for (int i = 0; i < 1000; ++i)
        seen.insert(Crypto::sortableId());
    QCOMPARE(seen.size(), 1000);
}

void TestCrypto::verifiesBetterAuthHash()
{
    // A hash in Better Auth's stored format (independently computed, see top of file).
    QVERIFY(verifyPassword(horseHash, horsePassword));
    // And one that Better Auth's own code produced.
    QVERIFY(verifyPassword(recordedBetterAuthHash, horsePassword));
    QVERIFY(!verifyPassword(recordedBetterAuthHash, QStringLiteral("correct horse battery stapler")));
}

void TestCrypto::rejectsWrongPassword()
{
    QVERIFY(!verifyPassword(horseHash, QStringLiteral("correct horse battery stapler")));
}

void TestCrypto::rejectsMalformedHash_data()
{
    QTest::addColumn<QString>("stored");
    const QString key = horseHash.mid(33);
    QTest::newRow("empty") << QString();
    QTest::newRow("abc") << QStringLiteral("abc");
    QTest::newRow("zz:zz") << QStringLiteral("zz:zz");
    QTest::newRow("missing colon") << QString(horseHash).remove(u':');
    QTest::newRow("key only") << key;
    QTest::newRow("empty salt") << u':' + key;
    QTest::newRow("empty key") << horseHash.left(33);
    QTest::newRow("two colons") << horseHash + u':';
    QTest::newRow("short key") << horseHash.chopped(2);
    QTest::newRow("long key") << horseHash + QStringLiteral("00");
    QTest::newRow("non-hex key") << horseHash.chopped(1) + u'g';
}

void TestCrypto::rejectsMalformedHash()
{
    QFETCH(QString, stored);
    QVERIFY(!verifyPassword(stored, horsePassword));
}

void TestCrypto::acceptsUpperCaseKeyHex()
{
    // Only the key is hex-decoded; the salt is used as the literal string, so it keeps its case.
    const QString upper = horseHash.left(33) + horseHash.mid(33).toUpper();
    QVERIFY(verifyPassword(upper, horsePassword));
}

void TestCrypto::normalisesToNfkc()
{
    const QString composed = QStringLiteral("\uFB01le-\u216B-p\u00E4ssword"); // "ﬁ", "Ⅻ"
    QCOMPARE(composed.normalized(QString::NormalizationForm_KC),
             QStringLiteral("file-XII-p\u00E4ssword"));
    QVERIFY(verifyPassword(nfkcHash, composed));
    QVERIFY(verifyPassword(nfkcHash, QStringLiteral("file-XII-p\u00E4ssword")));
}

void TestCrypto::verifiesEmptyPassword()
{
    QVERIFY(verifyPassword(emptyHash, QString()));
}

void TestCrypto::hashHasBetterAuthShape()
{
    const QString a = hashPassword(horsePassword);
    QVERIFY2(QRegularExpression(QStringLiteral("^[0-9a-f]{32}:[0-9a-f]{128}$")).match(a).hasMatch(),
             qPrintable(a));
    QVERIFY(verifyPassword(a, horsePassword));
    QVERIFY(a != hashPassword(horsePassword)); // fresh salt each time
}

void TestCrypto::customParameters()
{
    QVERIFY(verifyPassword(smallHash, QStringLiteral("pw"), smallParams));
    QVERIFY(!verifyPassword(smallHash, QStringLiteral("pw2"), smallParams));
    // A 32-byte key is malformed under the default 64-byte parameters.
    QVERIFY(!verifyPassword(smallHash, QStringLiteral("pw")));

    const QString h = hashPassword(QStringLiteral("pw"), smallParams);
    QVERIFY2(QRegularExpression(QStringLiteral("^[0-9a-f]{32}:[0-9a-f]{64}$")).match(h).hasMatch(),
             qPrintable(h));
    QVERIFY(verifyPassword(h, QStringLiteral("pw"), smallParams));
}

void TestCrypto::invalidParametersGiveEmptyHash()
{
    QCOMPARE(hashPassword(QStringLiteral("pw"), ScryptParams{ 1000, 8, 1, 32 }), QString()); // N not 2^k
    QCOMPARE(hashPassword(QStringLiteral("pw"), ScryptParams{ 1024, 8, 1, 0 }), QString());
    QCOMPARE(hashPassword(QStringLiteral("pw"), ScryptParams{ 1024, 0, 1, 32 }), QString());
    QVERIFY(!verifyPassword(smallHash, QStringLiteral("pw"), ScryptParams{ 1000, 8, 1, 32 }));
    // 2 TiB of memory for one hash: refused, not attempted.
    QCOMPARE(hashPassword(QStringLiteral("pw"), ScryptParams{ quint64(1) << 30, 16, 1, 64 }), QString());
    QCOMPARE(hashPassword(QStringLiteral("pw"), ScryptParams{ 1024, 8, 0, 32 }), QString());
}

QTEST_GUILESS_MAIN(TestCrypto)
#include "tst_crypto.moc"
