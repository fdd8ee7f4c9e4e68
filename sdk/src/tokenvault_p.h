// Kernia SDK internal: the session token in the OS keychain through QtKeychain.
// Jobs run one at a time through a queue (several backends are not re-entrant).
// EntryNotFound means "no token"; any other keychain failure means the keychain is
// unavailable (KEYCHAIN_UNAVAILABLE). A plaintext file is used only when the app
// opted in explicitly (ClientOptions::setAllowInsecurePlaintextTokenStorage). Not API.
#pragma once

#include <Kernia/error.h>

#include <QtCore/QObject>
#include <QtCore/QPointer>
#include <QtCore/QQueue>

#include <functional>

namespace QKeychain {
class Job;
}

namespace Kernia {

struct VaultResult
{
    QString token;          // empty: no token stored
    Error error;            // KEYCHAIN_UNAVAILABLE (or LOCAL_STORE_ERROR for the plaintext file)
    bool usedPlaintext = false;
};

class TokenVault : public QObject
{
    Q_OBJECT

public:
    using Callback = std::function<void(const VaultResult &)>;

    // plaintextFile: empty unless the app opted in to the insecure fallback.
    TokenVault(const QString &service, const QString &key, const QString &plaintextFile, QObject *parent = nullptr);
    ~TokenVault() override;

    void read(Callback callback);
    void write(const QString &token, Callback callback);
    void remove(Callback callback);
    // Another entry (where an older version kept the token): keychain only, no fallback.
    void readAt(const QString &service, const QString &key, Callback callback);
    void removeAt(const QString &service, const QString &key, Callback callback);

    QString service() const { return m_service; }
    QString key() const { return m_key; }

    bool isKeychainAvailable() const { return m_keychainAvailable; }

Q_SIGNALS:
    void keychainAvailableChanged(bool available);
    void drained();   // the queue is empty and no job runs

private:
    enum class Op { Read, Write, Remove };
    struct Pending {
        Op op;
        QString token;
        Callback callback;
        QString service;   // empty: this vault's own entry (with the plaintext fallback)
        QString key;
    };

    void runNext();
    void done(QKeychain::Job *job, const Pending &pending);
    VaultResult plaintext(const Pending &pending, const Error &keychainError);
    void setKeychainAvailable(bool available);

    QString m_service;
    QString m_key;
    QString m_plaintextFile;
    QQueue<Pending> m_queue;
    QPointer<QKeychain::Job> m_running;
    bool m_keychainAvailable = true;
    bool m_destroying = false;
    static constexpr int FlushTimeoutMs = 5000;
};

} // namespace Kernia
