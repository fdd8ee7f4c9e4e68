#include <Kernia/error.h>

namespace Kernia {

class ErrorData : public QSharedData
{
public:
    Error::Kind kind = Error::Kind::None;
    QString code;
    QString message;
    int httpStatus = 0;
};

namespace {
const char *defaultCode(Error::Kind kind)
{
    switch (kind) {
    case Error::Kind::None: return "";
    case Error::Kind::Network: return Error::NetworkErrorCode;
    case Error::Kind::Timeout: return Error::TimeoutCode;
    case Error::Kind::Server: return Error::ServerErrorCode;
    case Error::Kind::BadResponse: return Error::BadResponseCode;
    case Error::Kind::Rejected: return "REJECTED";
    case Error::Kind::SessionGone: return Error::SessionGoneCode;
    case Error::Kind::KeychainUnavailable: return Error::KeychainUnavailableCode;
    case Error::Kind::LocalStore: return Error::LocalStoreErrorCode;
    case Error::Kind::InvalidState: return Error::InvalidStateCode;
    case Error::Kind::InvalidArgument: return Error::InvalidArgumentCode;
    case Error::Kind::Cancelled: return Error::CancelledCode;
    }
    return "";
}
} // namespace

Error::Error() : d(new ErrorData) { }

Error::Error(Kind kind, const QString &code, const QString &message, int httpStatus)
    : d(new ErrorData)
{
    d->kind = kind;
    d->code = code.isEmpty() ? QString::fromLatin1(defaultCode(kind)) : code;
    d->message = message;
    d->httpStatus = httpStatus;
}

Error::Error(const Error &other) = default;
Error::Error(Error &&other) noexcept = default;
Error &Error::operator=(const Error &other) = default;
Error &Error::operator=(Error &&other) noexcept = default;
Error::~Error() = default;

Error Error::fromKind(Kind kind, const QString &message)
{
    return Error(kind, QString(), message);
}

bool Error::isError() const { return d->kind != Kind::None; }
Error::Kind Error::kind() const { return d->kind; }
QString Error::code() const { return d->code; }
QString Error::message() const { return d->message; }
int Error::httpStatus() const { return d->httpStatus; }

bool Error::isTransient() const
{
    switch (d->kind) {
    case Kind::Network:
    case Kind::Timeout:
    case Kind::Server:
    case Kind::BadResponse:
        return true;
    default:
        return false;
    }
}

QString Error::toString() const
{
    if (!isError())
        return QStringLiteral("no error");
    QString s = d->code + QLatin1String(": ") + d->message;
    if (d->httpStatus)
        s += QStringLiteral(" (HTTP %1)").arg(d->httpStatus);
    return s;
}

bool Error::operator==(const Error &other) const
{
    return d->kind == other.d->kind && d->code == other.d->code && d->message == other.d->message
            && d->httpStatus == other.d->httpStatus;
}

QDebug operator<<(QDebug debug, const Error &error)
{
    QDebugStateSaver saver(debug);
    debug.nospace() << "Kernia::Error(" << error.toString() << ')';
    return debug;
}

} // namespace Kernia
