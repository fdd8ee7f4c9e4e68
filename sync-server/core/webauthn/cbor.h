// A strict CBOR (RFC 8949) decoder for exactly what WebAuthn needs: attestation objects,
// COSE keys and authenticator extensions.
//
//     using namespace Kernia::Server::WebAuthn;
//     Cbor::Value value;
//     if (const Cbor::Error error = Cbor::decode(bytes, &value); error != Cbor::Error::None)
//         return fail(Cbor::errorString(error));
//     const Cbor::Value *fmt = value.find("fmt");   // map lookup by text key
//
// Accepted: unsigned and negative integers that fit in qint64, byte strings, UTF-8 text
// strings, arrays, maps (keys: integers or text, no duplicates), false/true/null — all with
// definite lengths in shortest ("preferred") form. Everything else is rejected with an error
// value: indefinite lengths, tags, floats, other simple values, non-shortest lengths,
// truncated input, lengths beyond the input or the limits, nesting beyond the depth limit,
// and (for decode) trailing bytes. The decoder never reads outside the input and never
// allocates more than the input size justifies. No exceptions.
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <utility>
#include <vector>

namespace Kernia::Server::WebAuthn::Cbor {

enum class Error {
    None,
    Truncated,        // the input ends inside an item
    TrailingBytes,    // decode(): bytes after the top-level item
    NonCanonical,     // a length or integer not in its shortest encoding
    Unsupported,      // indefinite length, tag, float, simple value other than false/true/null
    TooDeep,          // nesting beyond Limits::maxDepth
    TooLarge,         // a length beyond the input or Limits
    IntegerOverflow,  // an integer outside qint64
    InvalidUtf8,      // a text string that is not valid UTF-8
    BadMapKey,        // a map key that is not an integer or text, or a duplicate key
};

QString errorString(Error error);

struct Limits
{
    int maxDepth = 16;            // nested arrays/maps
    qsizetype maxItems = 4096;    // items in the whole document (map entries count twice)
    qsizetype maxBytes = 1 << 20; // input size
};

struct Value
{
    enum class Type { Unsigned, Negative, Bytes, Text, Array, Map, Bool, Null };

    Type type = Type::Null;
    qint64 integer = 0;           // Unsigned and Negative: the value itself (Negative < 0)
    bool boolean = false;
    QByteArray bytes;             // Bytes: content; Text: UTF-8
    std::vector<Value> items;     // Array
    std::vector<std::pair<Value, Value>> entries; // Map, in input order

    bool isInteger() const { return type == Type::Unsigned || type == Type::Negative; }
    bool isText() const { return type == Type::Text; }
    bool isBytes() const { return type == Type::Bytes; }
    bool isMap() const { return type == Type::Map; }
    QString text() const { return QString::fromUtf8(bytes); }

    // Map lookups; nullptr when absent or not a map.
    const Value *find(qint64 key) const;
    const Value *find(QByteArrayView textKey) const;
};

// The whole input must be exactly one item.
Error decode(QByteArrayView data, Value *out, const Limits &limits = {});
// The first item of `data`; *consumed = its encoded size (the rest is left alone).
Error decodeFirst(QByteArrayView data, Value *out, qsizetype *consumed, const Limits &limits = {});

// Canonical encoders (shortest form), used by tests and the software authenticator.
QByteArray encodeHead(int majorType, quint64 argument);
QByteArray encodeInt(qint64 value);
QByteArray encodeBytes(QByteArrayView bytes);
QByteArray encodeText(QByteArrayView utf8);

} // namespace Kernia::Server::WebAuthn::Cbor
