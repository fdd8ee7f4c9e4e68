#include "cbor.h"

#include <limits>

namespace Kernia::Server::WebAuthn::Cbor {

QString errorString(Error error)
{
    switch (error) {
    case Error::None: return QStringLiteral("no error");
    case Error::Truncated: return QStringLiteral("CBOR input is truncated");
    case Error::TrailingBytes: return QStringLiteral("CBOR input has trailing bytes");
    case Error::NonCanonical: return QStringLiteral("CBOR length or integer is not in shortest form");
    case Error::Unsupported: return QStringLiteral("CBOR item type is not supported");
    case Error::TooDeep: return QStringLiteral("CBOR nesting is too deep");
    case Error::TooLarge: return QStringLiteral("CBOR length exceeds the input or the limits");
    case Error::IntegerOverflow: return QStringLiteral("CBOR integer out of range");
    case Error::InvalidUtf8: return QStringLiteral("CBOR text string is not valid UTF-8");
    case Error::BadMapKey: return QStringLiteral("CBOR map key is invalid or duplicated");
    }
    return QStringLiteral("unknown CBOR error");
}

const Value *Value::find(qint64 key) const
{
    if (type != Type::Map)
        return nullptr;
    for (const auto &[k, v] : entries) {
        if (k.isInteger() && k.integer == key)
            return &v;
    }
    return nullptr;
}

const Value *Value::find(QByteArrayView textKey) const
{
    if (type != Type::Map)
        return nullptr;
    for (const auto &[k, v] : entries) {
        if (k.isText() && QByteArrayView(k.bytes) == textKey)
            return &v;
    }
    return nullptr;
}

namespace {

bool validUtf8(QByteArrayView s)
{
    const auto *p = reinterpret_cast<const unsigned char *>(s.data());
    const qsizetype n = s.size();
    qsizetype i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        int len = 0;
        quint32 cp = 0;
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
        else return false;
        if (n - i < len)
            return false;
        for (int k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
            return false; // overlong
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

class Decoder
{
public:
    Decoder(QByteArrayView data, const Limits &limits) : m_data(data), m_limits(limits) {}

    qsizetype position() const { return m_pos; }

    Error item(Value *out, int depth)
    {
        if (depth > m_limits.maxDepth)
            return Error::TooDeep;
        if (m_pos >= m_data.size())
            return Error::Truncated;
        const quint8 initial = quint8(m_data[m_pos++]);
        const int major = initial >> 5;
        const int info = initial & 0x1F;

        if (major == 7) {
            switch (info) {
            case 20: out->type = Value::Type::Bool; out->boolean = false; return Error::None;
            case 21: out->type = Value::Type::Bool; out->boolean = true; return Error::None;
            case 22: out->type = Value::Type::Null; return Error::None;
            default: return Error::Unsupported; // undefined, simple values, floats, break
            }
        }
        if (major == 6)
            return Error::Unsupported; // tags

        quint64 argument = 0;
        if (const Error e = readArgument(info, &argument); e != Error::None)
            return e;

        switch (major) {
        case 0:
            if (argument > quint64(std::numeric_limits<qint64>::max()))
                return Error::IntegerOverflow;
            out->type = Value::Type::Unsigned;
            out->integer = qint64(argument);
            return Error::None;
        case 1:
            if (argument > quint64(std::numeric_limits<qint64>::max()))
                return Error::IntegerOverflow;
            out->type = Value::Type::Negative;
            out->integer = -1 - qint64(argument);
            return Error::None;
        case 2:
        case 3: {
            if (argument > quint64(m_data.size() - m_pos))
                return argument > quint64(m_limits.maxBytes) ? Error::TooLarge : Error::Truncated;
            const QByteArrayView content = m_data.sliced(m_pos, qsizetype(argument));
            m_pos += qsizetype(argument);
            if (major == 3 && !validUtf8(content))
                return Error::InvalidUtf8;
            out->type = major == 2 ? Value::Type::Bytes : Value::Type::Text;
            out->bytes = content.toByteArray();
            return Error::None;
        }
        case 4: {
            // Every item takes at least one byte: a count beyond the rest is a lie.
            if (argument > quint64(m_data.size() - m_pos))
                return argument > quint64(m_limits.maxItems) ? Error::TooLarge : Error::Truncated;
            if (!declare(argument))
                return Error::TooLarge;
            out->type = Value::Type::Array;
            out->items.resize(size_t(argument));
            for (Value &child : out->items) {
                if (const Error e = item(&child, depth + 1); e != Error::None)
                    return e;
            }
            return Error::None;
        }
        case 5: {
            if (argument > quint64(m_data.size() - m_pos) / 2)
                return argument > quint64(m_limits.maxItems) ? Error::TooLarge : Error::Truncated;
            if (argument > quint64(m_limits.maxItems) || !declare(2 * argument))
                return Error::TooLarge;
            out->type = Value::Type::Map;
            out->entries.resize(size_t(argument));
            for (size_t i = 0; i < out->entries.size(); ++i) {
                auto &[key, value] = out->entries[i];
                if (const Error e = item(&key, depth + 1); e != Error::None)
                    return e;
                if (!key.isInteger() && !key.isText())
                    return Error::BadMapKey;
                for (size_t j = 0; j < i; ++j) {
                    const Value &other = out->entries[j].first;
                    if (other.type == key.type && other.integer == key.integer && other.bytes == key.bytes)
                        return Error::BadMapKey;
                }
                if (const Error e = item(&value, depth + 1); e != Error::None)
                    return e;
            }
            return Error::None;
        }
        }
        return Error::Unsupported;
    }

private:
    Error readArgument(int info, quint64 *out)
    {
        if (info < 24) {
            *out = quint64(info);
            return Error::None;
        }
        if (info > 27)
            return Error::Unsupported; // 28..30 reserved, 31 indefinite length
        const int size = 1 << (info - 24); // 1, 2, 4, 8
        if (m_data.size() - m_pos < size)
            return Error::Truncated;
        quint64 value = 0;
        for (int i = 0; i < size; ++i)
            value = (value << 8) | quint8(m_data[m_pos + i]);
        m_pos += size;
        const quint64 minimum = size == 1 ? 24 : (quint64(1) << (8 * (size / 2)));
        if (value < minimum)
            return Error::NonCanonical;
        *out = value;
        return Error::None;
    }

    // Items count against maxItems when their array or map declares them, before anything
    // is allocated for them: counting them as they are parsed let nested headers make
    // every level allocate its whole declared count first (a 1 MB document took ~1 GB).
    bool declare(quint64 count)
    {
        if (count > quint64(m_limits.maxItems - m_items))
            return false;
        m_items += qsizetype(count);
        return true;
    }

    QByteArrayView m_data;
    const Limits &m_limits;
    qsizetype m_pos = 0;
    qsizetype m_items = 1;   // the document's own item
};

} // namespace

Error decodeFirst(QByteArrayView data, Value *out, qsizetype *consumed, const Limits &limits)
{
    *out = Value();
    if (consumed)
        *consumed = 0;
    if (data.size() > limits.maxBytes)
        return Error::TooLarge;
    Decoder decoder(data, limits);
    Value value;
    const Error error = decoder.item(&value, 1);
    if (error != Error::None)
        return error;
    *out = std::move(value);
    if (consumed)
        *consumed = decoder.position();
    return Error::None;
}

Error decode(QByteArrayView data, Value *out, const Limits &limits)
{
    qsizetype consumed = 0;
    const Error error = decodeFirst(data, out, &consumed, limits);
    if (error != Error::None)
        return error;
    if (consumed != data.size()) {
        *out = Value();
        return Error::TrailingBytes;
    }
    return Error::None;
}

QByteArray encodeHead(int majorType, quint64 argument)
{
    QByteArray out;
    const char major = char(majorType << 5);
    if (argument < 24) {
        out.append(char(major | char(argument)));
        return out;
    }
    int size = 8;
    char info = 27;
    if (argument <= 0xFF) { size = 1; info = 24; }
    else if (argument <= 0xFFFF) { size = 2; info = 25; }
    else if (argument <= 0xFFFFFFFFull) { size = 4; info = 26; }
    out.append(char(major | info));
    for (int i = size - 1; i >= 0; --i)
        out.append(char((argument >> (8 * i)) & 0xFF));
    return out;
}

QByteArray encodeInt(qint64 value)
{
    return value >= 0 ? encodeHead(0, quint64(value)) : encodeHead(1, quint64(-1 - value));
}

QByteArray encodeBytes(QByteArrayView bytes)
{
    return encodeHead(2, quint64(bytes.size())) + bytes.toByteArray();
}

QByteArray encodeText(QByteArrayView utf8)
{
    return encodeHead(3, quint64(utf8.size())) + utf8.toByteArray();
}

} // namespace Kernia::Server::WebAuthn::Cbor
