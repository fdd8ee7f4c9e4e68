// Unit tests for auth/cookies.h against values recorded from the Better Auth reference
// server (/work/shared/protocol, README §2-3 and transcripts/).
#include "auth/cookies.h"

#include <QtTest>

using namespace Kernia::Server;

namespace {

const QByteArray secret = "kernia-reference-secret-0123456789ABCDEF";

// README §2.3 worked example (also transcript 01).
const QByteArray token01 = "lq2GL7kctja5pNgOlvNz3S9XrbHLJk60";
const QByteArray signed01 = "lq2GL7kctja5pNgOlvNz3S9XrbHLJk60.ztpcp5DWdcpYUWzDnhp+ZOEPpyOujNzTMvnK3YWs8gg=";
const QByteArray wire01 = "lq2GL7kctja5pNgOlvNz3S9XrbHLJk60.ztpcp5DWdcpYUWzDnhp%2BZOEPpyOujNzTMvnK3YWs8gg%3D";

} // namespace

class TestCookies : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void signsReadmeVectors();
    void recordedCookies_data();
    void recordedCookies();
    void valueMayContainDots();
    void rejectsBadSignedValues_data();
    void rejectsBadSignedValues();
    void nonCanonicalBase64LikeAtob();

    void encodeURIComponent();
    void decodeURIComponent_data();
    void decodeURIComponent();

    void parseCookieHeader();
    void parseRecordedRequestHeader();
    void parseQuirks();

    void serializeSetCookie();
    void cookieNames();

    void bearer_data();
    void bearer();
    void bearerRequireSignature();
};

void TestCookies::signsReadmeVectors()
{
    QCOMPARE(Cookies::sign(token01, secret), signed01);
    QCOMPARE(Cookies::encodeURIComponent(Cookies::sign(token01, secret)), wire01);
    QCOMPARE(Cookies::sign("true", secret), QByteArray("true.1U2kmVsweYJKEXzny6E09C83/60wnQUHbNVt9wU/da4="));
    QCOMPARE(Cookies::verifySigned(signed01, secret), std::optional<QByteArray>(token01));
}

void TestCookies::recordedCookies_data()
{
    QTest::addColumn<QByteArray>("setCookie");
    QTest::addColumn<QByteArray>("value");
    // Set-Cookie lines copied verbatim from the transcripts.
    QTest::newRow("01 session_token")
            << QByteArray("better-auth.session_token=" + wire01 + "; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax")
            << token01;
    QTest::newRow("04 session_token (/ and +)")
            << QByteArray("better-auth.session_token=0XlXItyKWh4B7FOfuyBQ6zBbpcsQO9QR.mj49UXd1MWmBPq3hJFt67E84FQNjanbWagP%2Fa%2BSAiKw%3D; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax")
            << QByteArray("0XlXItyKWh4B7FOfuyBQ6zBbpcsQO9QR");
    QTest::newRow("05 session_token (many escapes)")
            << QByteArray("better-auth.session_token=eP7mxtYuW5A1UYg440k14P38Gl2vQ1PZ.Z%2BTn%2FWOEcArgqXqAyzU%2FGt%2BtIG0kbPqC4aT8L8%2BADX0%3D; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax")
            << QByteArray("eP7mxtYuW5A1UYg440k14P38Gl2vQ1PZ");
    QTest::newRow("11 __Secure- session_token")
            << QByteArray("__Secure-better-auth.session_token=fzlQA3ct5sRS0ERNC4T3T4Q6ihhB9Rh4.bkrAKRvlEb3d7LwT4XOSuFrI5RSpKetCKAC6UADc58w%3D; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=Lax")
            << QByteArray("fzlQA3ct5sRS0ERNC4T3T4Q6ihhB9Rh4");
    QTest::newRow("14 session_token, no Max-Age")
            << QByteArray("better-auth.session_token=DCTWUZchF7oQ6clWRWDqhu5Nt5G63jtO.eJRcGvt5w7gwZy3JBqU3xPkZ1JOhizdN8z9QiTM15J0%3D; Path=/; HttpOnly; SameSite=Lax")
            << QByteArray("DCTWUZchF7oQ6clWRWDqhu5Nt5G63jtO");
    QTest::newRow("dont_remember")
            << QByteArray("better-auth.dont_remember=true.1U2kmVsweYJKEXzny6E09C83%2F60wnQUHbNVt9wU%2Fda4%3D; Path=/; HttpOnly; SameSite=Lax")
            << QByteArray("true");
    QTest::newRow("08 passkey challenge (- and _ in value)")
            << QByteArray("better-auth.better-auth-passkey=fkoIK5puwc1HK4nPf-h6uvX03TSfobvx.KWDQKZi5p3sYWvM%2B7Q2z%2FWtbbo1hXZOQvlKS2auYU6w%3D; Max-Age=300; Path=/; HttpOnly; SameSite=Lax")
            << QByteArray("fkoIK5puwc1HK4nPf-h6uvX03TSfobvx");
}

void TestCookies::recordedCookies()
{
    QFETCH(QByteArray, setCookie);
    QFETCH(QByteArray, value);

    const qsizetype eq = setCookie.indexOf('=');
    const qsizetype semi = setCookie.indexOf(';');
    const QByteArray name = setCookie.left(eq);
    const QByteArray wire = setCookie.mid(eq + 1, semi - eq - 1);

    // Reading: the browser sends "name=wire" back.
    const auto jar = Cookies::parseCookieHeader(QByteArray(name + '=' + wire));
    QVERIFY(jar.contains(name));
    QCOMPARE(Cookies::verifySigned(jar.value(name), secret), std::optional<QByteArray>(value));

    // Writing: the same line byte for byte.
    Cookies::CookieAttributes attrs;
    const QByteArray tail = setCookie.mid(semi);
    if (tail.contains("Max-Age="))
        attrs.maxAge = tail.split('=').at(1).split(';').at(0).toLongLong();
    attrs.secure = tail.contains("; Secure");
    QCOMPARE(Cookies::serializeSetCookie(
                     name, Cookies::encodeURIComponent(Cookies::sign(value, secret)), attrs),
             setCookie);
}

void TestCookies::valueMayContainDots()
{
    const QByteArray s = Cookies::sign("a.b.c", secret);
    QCOMPARE(Cookies::verifySigned(s, secret), std::optional<QByteArray>("a.b.c"));
}

void TestCookies::rejectsBadSignedValues_data()
{
    QTest::addColumn<QByteArray>("signedValue");
    QTest::addColumn<QByteArray>("key");
    const QByteArray sig = signed01.mid(signed01.indexOf('.') + 1);

    QTest::newRow("forged signature (transcript 12)")
            << QByteArray(token01 + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=") << secret;
    QTest::newRow("tampered value (transcript 12)")
            << QByteArray("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA." + sig) << secret;
    QTest::newRow("wrong secret") << signed01 << QByteArray("another-secret");
    QTest::newRow("empty secret") << signed01 << QByteArray();
    QTest::newRow("truncated") << signed01.chopped(1) << secret;
    QTest::newRow("truncated to the dot") << QByteArray(token01 + '.') << secret;
    QTest::newRow("no dot") << token01 << secret;
    QTest::newRow("dot at index 0") << QByteArray('.' + sig) << secret;
    QTest::newRow("43-char sig (no padding)") << signed01.chopped(1) << secret;
    QTest::newRow("45-char sig") << QByteArray(signed01 + '=') << secret;
    QTest::newRow("44 chars, not ending in =") << QByteArray(signed01.chopped(1) + 'A') << secret;
    QTest::newRow("base64url alphabet") << QByteArray(signed01).replace('+', '-') << secret;
    QTest::newRow("still percent-encoded") << wire01 << secret;
    QTest::newRow("sig of another value")
            << QByteArray(token01 + '.' + Cookies::sign("true", secret).mid(5)) << secret;
    QTest::newRow("empty") << QByteArray() << secret;
}

void TestCookies::rejectsBadSignedValues()
{
    QFETCH(QByteArray, signedValue);
    QFETCH(QByteArray, key);
    QCOMPARE(Cookies::verifySigned(signedValue, key), std::nullopt);
}

void TestCookies::nonCanonicalBase64LikeAtob()
{
    // "...8gg=": the last 'g' carries 2 unused bits. atob() ignores them, and so does the
    // reference server's verifier; "...8gh=" decodes to the same 32 bytes.
    const QByteArray variant = signed01.chopped(2) + "h=";
    QCOMPARE(Cookies::verifySigned(variant, secret), std::optional<QByteArray>(token01));
}

void TestCookies::encodeURIComponent()
{
    QCOMPARE(Cookies::encodeURIComponent("AZaz09-_.!~*'()"), QByteArray("AZaz09-_.!~*'()"));
    QCOMPARE(Cookies::encodeURIComponent("+/= ;,\"%"), QByteArray("%2B%2F%3D%20%3B%2C%22%25"));
    QCOMPARE(Cookies::encodeURIComponent("\xc3\xa9"), QByteArray("%C3%A9")); // é
    QCOMPARE(Cookies::encodeURIComponent(QByteArray("\0", 1)), QByteArray("%00"));
    QCOMPARE(Cookies::encodeURIComponent(""), QByteArray());
}

void TestCookies::decodeURIComponent_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QByteArray>("output");
    QTest::newRow("recorded cookie") << wire01 << true << signed01;
    QTest::newRow("no escapes") << QByteArray("abc") << true << QByteArray("abc");
    QTest::newRow("plus stays plus") << QByteArray("a+b") << true << QByteArray("a+b");
    QTest::newRow("lower-case hex") << QByteArray("%2b%2f") << true << QByteArray("+/");
    QTest::newRow("two-byte UTF-8") << QByteArray("%C3%A9") << true << QByteArray("\xc3\xa9");
    QTest::newRow("four-byte UTF-8") << QByteArray("%F0%9F%98%80") << true << QByteArray("\xf0\x9f\x98\x80");
    QTest::newRow("raw UTF-8 passes") << QByteArray("\xc3\xa9%41") << true << QByteArray("\xc3\xa9" "A");
    QTest::newRow("escaped percent") << QByteArray("%25zz") << true << QByteArray("%zz");
    // Every failure hands back the raw input, like better-call's tryDecode.
    QTest::newRow("bad hex") << QByteArray("%zz") << false << QByteArray("%zz");
    QTest::newRow("lone %") << QByteArray("abc%") << false << QByteArray("abc%");
    QTest::newRow("short escape") << QByteArray("%4") << false << QByteArray("%4");
    QTest::newRow("truncated UTF-8") << QByteArray("%C3") << false << QByteArray("%C3");
    QTest::newRow("UTF-8 split by raw byte") << QByteArray("%C3\xa9") << false << QByteArray("%C3\xa9");
    QTest::newRow("stray continuation") << QByteArray("%A9") << false << QByteArray("%A9");
    QTest::newRow("overlong") << QByteArray("%C0%AF") << false << QByteArray("%C0%AF");
    QTest::newRow("overlong 3-byte") << QByteArray("%E0%80%AF") << false << QByteArray("%E0%80%AF");
    QTest::newRow("surrogate") << QByteArray("%ED%A0%80") << false << QByteArray("%ED%A0%80");
    QTest::newRow("above U+10FFFF") << QByteArray("%F4%90%80%80") << false << QByteArray("%F4%90%80%80");
}

void TestCookies::decodeURIComponent()
{
    QFETCH(QByteArray, input);
    QFETCH(bool, ok);
    QFETCH(QByteArray, output);
    bool actualOk = !ok;
    QCOMPARE(Cookies::decodeURIComponent(input, &actualOk), output);
    QCOMPARE(actualOk, ok);
    QCOMPARE(Cookies::decodeURIComponent(input), output); // ok pointer is optional
}

void TestCookies::parseCookieHeader()
{
    const auto jar = Cookies::parseCookieHeader(
            "a=1; b = 2 ;c=\"quoted%20value\";a=second; d=%zz; e=x=y;  ; f=");
    QCOMPARE(jar.value("a"), QByteArray("1"));            // first occurrence wins
    QCOMPARE(jar.value("b"), QByteArray("2"));            // name and value trimmed
    QCOMPARE(jar.value("c"), QByteArray("quoted value")); // quotes stripped, then decoded
    QCOMPARE(jar.value("d"), QByteArray("%zz"));          // undecodable: kept raw
    QCOMPARE(jar.value("e"), QByteArray("x=y"));          // split at the first '='
    QVERIFY(jar.contains("f"));
    QCOMPARE(jar.value("f"), QByteArray());
    QCOMPARE(jar.size(), 6);

    QVERIFY(Cookies::parseCookieHeader("").isEmpty());
    QVERIFY(Cookies::parseCookieHeader("novalue").isEmpty());
}

void TestCookies::parseRecordedRequestHeader()
{
    // Cookie header sent in transcript 14 (session token + don't-remember flag).
    const auto jar = Cookies::parseCookieHeader(
            "better-auth.session_token=DCTWUZchF7oQ6clWRWDqhu5Nt5G63jtO.eJRcGvt5w7gwZy3JBqU3xPkZ1JOhizdN8z9QiTM15J0%3D; "
            "better-auth.dont_remember=true.1U2kmVsweYJKEXzny6E09C83%2F60wnQUHbNVt9wU%2Fda4%3D");
    const auto names = Cookies::AuthCookieNames::make();
    QCOMPARE(Cookies::verifySigned(jar.value(names.sessionToken), secret),
             std::optional<QByteArray>("DCTWUZchF7oQ6clWRWDqhu5Nt5G63jtO"));
    QCOMPARE(Cookies::verifySigned(jar.value(names.dontRemember), secret),
             std::optional<QByteArray>("true"));

    // Duplicate session cookie: the first one is the one checked (here a forged one).
    const auto dup = Cookies::parseCookieHeader(QByteArray(
            "better-auth.session_token=" + token01 + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D; "
            "better-auth.session_token=" + wire01));
    QCOMPARE(Cookies::verifySigned(dup.value(names.sessionToken), secret), std::nullopt);

    // A quoted cookie value is accepted.
    const auto quoted = Cookies::parseCookieHeader(QByteArray("better-auth.session_token=\"" + wire01 + '"'));
    QCOMPARE(Cookies::verifySigned(quoted.value(names.sessionToken), secret),
             std::optional<QByteArray>(token01));
}

void TestCookies::parseQuirks()
{
    // Segments without '=' are skipped, even before a real pair.
    QCOMPARE(Cookies::parseCookieHeader("junk; a=1").value("a"), QByteArray("1"));
    QCOMPARE(Cookies::parseCookieHeader("junk;more junk;a=1").value("a"), QByteArray("1"));
    // better-call strips the first and last character of any value starting with '"'.
    QCOMPARE(Cookies::parseCookieHeader("a=\"abc").value("a"), QByteArray("ab"));
    QCOMPARE(Cookies::parseCookieHeader("a=\"").value("a"), QByteArray());
    // An empty name is still a name, as in better-call.
    QCOMPARE(Cookies::parseCookieHeader("=v").value(""), QByteArray("v"));
}

void TestCookies::serializeSetCookie()
{
    Cookies::CookieAttributes attrs;
    attrs.maxAge = 604800;
    QCOMPARE(Cookies::serializeSetCookie("better-auth.session_token", wire01, attrs),
             QByteArray("better-auth.session_token=" + wire01
                        + "; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"));

    // Max-Age absent, Secure present (README §2.1 order).
    Cookies::CookieAttributes secure;
    secure.secure = true;
    QCOMPARE(Cookies::serializeSetCookie("x", "v", secure),
             QByteArray("x=v; Path=/; HttpOnly; Secure; SameSite=Lax"));

    // Clearing (README §2.2).
    Cookies::CookieAttributes clear;
    clear.maxAge = 0;
    QCOMPARE(Cookies::serializeSetCookie("better-auth.session_data", "", clear),
             QByteArray("better-auth.session_data=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"));

    // Every attribute, in order; "__Secure-" forces Secure; "lax" is capitalised.
    Cookies::CookieAttributes all;
    all.maxAge = 300;
    all.domain = "example.com";
    all.sameSite = "lax";
    QCOMPARE(Cookies::serializeSetCookie("__Secure-a.b", "v", all),
             QByteArray("__Secure-a.b=v; Max-Age=300; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=Lax"));

    // Nothing optional.
    Cookies::CookieAttributes none;
    none.maxAge = -1; // negative: omitted, as better-call does
    none.path.clear();
    none.httpOnly = false;
    none.sameSite.clear();
    QCOMPARE(Cookies::serializeSetCookie("a", "b", none), QByteArray("a=b"));
}

void TestCookies::cookieNames()
{
    QCOMPARE(Cookies::cookieName("better-auth", "session_token", false),
             QByteArray("better-auth.session_token"));
    QCOMPARE(Cookies::cookieName("better-auth", "session_token", true),
             QByteArray("__Secure-better-auth.session_token"));
    QCOMPARE(Cookies::cookieName("kernia", "dont_remember", false), QByteArray("kernia.dont_remember"));

    const auto plain = Cookies::AuthCookieNames::make();
    QCOMPARE(plain.sessionToken, QByteArray("better-auth.session_token"));
    QCOMPARE(plain.sessionData, QByteArray("better-auth.session_data"));
    QCOMPARE(plain.dontRemember, QByteArray("better-auth.dont_remember"));
    QCOMPARE(plain.passkeyChallenge, QByteArray("better-auth.better-auth-passkey"));
    const auto secure = Cookies::AuthCookieNames::make("better-auth", true);
    QCOMPARE(secure.sessionToken, QByteArray("__Secure-better-auth.session_token"));
    QCOMPARE(secure.passkeyChallenge, QByteArray("__Secure-better-auth.better-auth-passkey"));
}

void TestCookies::bearer_data()
{
    QTest::addColumn<QByteArray>("header");
    QTest::addColumn<std::optional<QByteArray>>("expected");
    const std::optional<QByteArray> none;
    const std::optional<QByteArray> ok01(signed01);

    // Accepted (transcripts 01, 04, 11).
    QTest::newRow("set-auth-token value") << QByteArray("Bearer " + signed01) << ok01;
    QTest::newRow("raw unsigned token") << QByteArray("Bearer " + token01) << ok01;
    QTest::newRow("percent-encoded (%2B, %3D)") << QByteArray("Bearer " + wire01) << ok01;
    QTest::newRow("lower-case scheme") << QByteArray("bearer " + signed01) << ok01;
    QTest::newRow("upper-case scheme") << QByteArray("BEARER " + signed01) << ok01;
    QTest::newRow("token trimmed") << QByteArray("Bearer   " + signed01 + "  ") << ok01;
    QTest::newRow("04 token with / and +")
            << QByteArray("Bearer 0XlXItyKWh4B7FOfuyBQ6zBbpcsQO9QR.mj49UXd1MWmBPq3hJFt67E84FQNjanbWagP/a+SAiKw=")
            << std::optional<QByteArray>("0XlXItyKWh4B7FOfuyBQ6zBbpcsQO9QR.mj49UXd1MWmBPq3hJFt67E84FQNjanbWagP/a+SAiKw=");
    // Transcript 12: "Bearer garbage" is signed by the server and so passes the signature
    // check (the session lookup then fails and the cookies are cleared).
    QTest::newRow("raw garbage")
            << QByteArray("Bearer garbage")
            << std::optional<QByteArray>("garbage.bUvQDGzh6UuKIp4manGucfai5a+T/RlomwuEpJIpInA=");

    // Ignored.
    QTest::newRow("tampered value (transcript 12)")
            << QByteArray("Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ztpcp5DWdcpYUWzDnhp+ZOEPpyOujNzTMvnK3YWs8gg=")
            << none;
    QTest::newRow("tampered signature")
            << QByteArray("Bearer " + token01 + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=") << none;
    QTest::newRow("43-char signature") << QByteArray("Bearer " + signed01.chopped(1)) << none;
    QTest::newRow("two dots") << QByteArray("Bearer x." + signed01) << none;
    // Would pass the cookie reader (last '.'), but the bearer check splits at the first '.'.
    QTest::newRow("validly signed value with a dot")
            << QByteArray("Bearer " + Cookies::sign("x.y", secret)) << none;
    QTest::newRow("dot at index 0") << QByteArray("Bearer ." + signed01.mid(signed01.indexOf('.') + 1)) << none;
    QTest::newRow("bad percent-encoding") << QByteArray("Bearer " + wire01 + "%zz") << none;
    QTest::newRow("empty token") << QByteArray("Bearer ") << none;
    QTest::newRow("blank token") << QByteArray("Bearer    ") << none;
    QTest::newRow("scheme only") << QByteArray("Bearer") << none;
    QTest::newRow("no space") << QByteArray("Bearer" + signed01) << none;
    QTest::newRow("tab instead of space") << QByteArray("Bearer\t" + signed01) << none;
    QTest::newRow("other scheme") << QByteArray("Basic " + signed01) << none;
    QTest::newRow("empty header") << QByteArray() << none;
}

void TestCookies::bearer()
{
    QFETCH(QByteArray, header);
    QFETCH(std::optional<QByteArray>, expected);
    QCOMPARE(Cookies::signedTokenFromBearer(header, secret), expected);
}

void TestCookies::bearerRequireSignature()
{
    QCOMPARE(Cookies::signedTokenFromBearer(QByteArray("Bearer " + token01), secret, true), std::nullopt);
    QCOMPARE(Cookies::signedTokenFromBearer(QByteArray("Bearer " + signed01), secret, true),
             std::optional<QByteArray>(signed01));
    QCOMPARE(Cookies::signedTokenFromBearer(QByteArray("Bearer " + signed01), "wrong-secret"), std::nullopt);
}

QTEST_GUILESS_MAIN(TestCookies)
#include "tst_cookies.moc"
