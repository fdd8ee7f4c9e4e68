#include "tokenvault_p.h"

#include "logging_p.h"

#include <QtCore/QDir>
#include <QtCore/QEventLoop>
#include <QtCore/QTimer>
#include <QtCore/QFile>
#include <QtCore/QFileInfo>
#include <QtCore/QSaveFile>

#include <qt6keychain/keychain.h>

namespace Kernia {

TokenVault::TokenVault(const QString &service, const QString &key, const QString &plaintextFile, QObject *parent)
    : QObject(parent), m_service(service), m_key(key), m_plaintextFile(plaintextFile)
{
}

TokenVault::~TokenVault()
{
    // Reads are pointless now, but a token written or removed just before the app quits
    // must reach the keychain: finish the queued writes/removals (bounded), without
    // calling back into the (dying) owner.
    m_destroying = true;
    QQueue<Pending> keep;
    for (Pending &p : m_queue) {
        p.callback = nullptr;
        if (p.op != Op::Read)
            keep.enqueue(p);
    }
    m_queue = keep;
    if (m_running || !m_queue.isEmpty()) {
        QEventLoop loop;
        connect(this, &TokenVault::drained, &loop, &QEventLoop::quit);
        QTimer::singleShot(FlushTimeoutMs, &loop, &QEventLoop::quit);
        runNext();
        if (m_running)
            loop.exec(QEventLoop::ExcludeUserInputEvents);
    }
    m_queue.clear();
    if (m_running) {
        // Never delete a job whose backend call is still in flight: let it finish and
        // delete itself; our connection to it dies with this object.
        qCWarning(lcVault) << "a keychain job did not finish before the client was destroyed";
        m_running->disconnect(this);
        m_running->setAutoDelete(true);
        m_running->setParent(nullptr);
    }
}

void TokenVault::read(Callback callback)
{
    m_queue.enqueue({ Op::Read, QString(), std::move(callback), QString(), QString() });
    runNext();
}

void TokenVault::write(const QString &token, Callback callback)
{
    m_queue.enqueue({ Op::Write, token, std::move(callback), QString(), QString() });
    runNext();
}

void TokenVault::remove(Callback callback)
{
    m_queue.enqueue({ Op::Remove, QString(), std::move(callback), QString(), QString() });
    runNext();
}

void TokenVault::readAt(const QString &service, const QString &key, Callback callback)
{
    m_queue.enqueue({ Op::Read, QString(), std::move(callback), service, key });
    runNext();
}

void TokenVault::removeAt(const QString &service, const QString &key, Callback callback)
{
    m_queue.enqueue({ Op::Remove, QString(), std::move(callback), service, key });
    runNext();
}

void TokenVault::setKeychainAvailable(bool available)
{
    if (m_keychainAvailable == available)
        return;
    m_keychainAvailable = available;
    Q_EMIT keychainAvailableChanged(available);
}

void TokenVault::runNext()
{
    if (m_running || m_queue.isEmpty())
        return;
    const Pending pending = m_queue.dequeue();
    const QString service = pending.service.isEmpty() ? m_service : pending.service;
    QKeychain::Job *job = nullptr;
    switch (pending.op) {
    case Op::Read:
        job = new QKeychain::ReadPasswordJob(service, this);
        break;
    case Op::Write: {
        auto *w = new QKeychain::WritePasswordJob(service, this);
        w->setTextData(pending.token);
        job = w;
        break;
    }
    case Op::Remove:
        job = new QKeychain::DeletePasswordJob(service, this);
        break;
    }
    job->setAutoDelete(false);
    job->setInsecureFallback(false);   // our own, explicit fallback only
    job->setKey(pending.service.isEmpty() ? m_key : pending.key);
    m_running = job;
    connect(job, &QKeychain::Job::finished, this, [this, pending](QKeychain::Job *j) { done(j, pending); });
    job->start();
}

void TokenVault::done(QKeychain::Job *job, const Pending &pending)
{
    VaultResult result;
    const QKeychain::Error err = job->error();
    const bool ownEntry = pending.service.isEmpty();
    if (!ownEntry) {
        // Another entry: no availability bookkeeping, no plaintext file.
        if (err == QKeychain::NoError && pending.op == Op::Read)
            result.token = static_cast<QKeychain::ReadPasswordJob *>(job)->textData();
        else if (err != QKeychain::NoError && err != QKeychain::EntryNotFound)
            result.error = Error(Error::Kind::KeychainUnavailable, QString(),
                                 QStringLiteral("The OS keychain is not available (%1)").arg(job->errorString()));
    } else if (err == QKeychain::NoError || err == QKeychain::EntryNotFound) {
        setKeychainAvailable(true);
        if (pending.op == Op::Read && err == QKeychain::NoError)
            result.token = static_cast<QKeychain::ReadPasswordJob *>(job)->textData();
        // A token migrated from the opt-in plaintext file is not left behind in plaintext.
        if (!m_plaintextFile.isEmpty() && pending.op != Op::Read && QFile::exists(m_plaintextFile))
            QFile::remove(m_plaintextFile);
        if (!m_plaintextFile.isEmpty() && pending.op == Op::Read && result.token.isEmpty()
            && QFile::exists(m_plaintextFile))
            result = plaintext(pending, Error());
    } else {
        const Error keychainError(Error::Kind::KeychainUnavailable, QString(),
                                  QStringLiteral("The OS keychain is not available (%1)").arg(job->errorString()));
        qCWarning(lcVault) << "keychain" << int(err) << job->errorString();
        setKeychainAvailable(false);
        if (!m_plaintextFile.isEmpty())
            result = plaintext(pending, keychainError);
        else
            result.error = keychainError;
    }
    m_running = nullptr;
    job->deleteLater();
    if (pending.callback && !m_destroying)
        pending.callback(result);
    runNext();
    if (!m_running)
        Q_EMIT drained();
}

VaultResult TokenVault::plaintext(const Pending &pending, const Error &keychainError)
{
    VaultResult result;
    result.usedPlaintext = true;
    qCWarning(lcVault) << "INSECURE: using the plaintext token file" << m_plaintextFile
                       << "(ClientOptions::allowInsecurePlaintextTokenStorage is on)";
    Q_UNUSED(keychainError);
    switch (pending.op) {
    case Op::Read: {
        QFile f(m_plaintextFile);
        if (f.exists()) {
            if (f.open(QIODevice::ReadOnly))
                result.token = QString::fromUtf8(f.readAll()).trimmed();
            else
                result.error = Error(Error::Kind::LocalStore, QString(),
                                     QStringLiteral("Cannot read the token file %1: %2").arg(m_plaintextFile, f.errorString()));
        }
        break;
    }
    case Op::Write: {
        QDir().mkpath(QFileInfo(m_plaintextFile).absolutePath());
        QSaveFile f(m_plaintextFile);
        if (!f.open(QIODevice::WriteOnly)) {
            result.error = Error(Error::Kind::LocalStore, QString(),
                                 QStringLiteral("Cannot write the token file %1: %2").arg(m_plaintextFile, f.errorString()));
            break;
        }
        f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
        f.write(pending.token.toUtf8());
        if (!f.commit())
            result.error = Error(Error::Kind::LocalStore, QString(),
                                 QStringLiteral("Cannot write the token file %1: %2").arg(m_plaintextFile, f.errorString()));
        break;
    }
    case Op::Remove:
        if (QFile::exists(m_plaintextFile) && !QFile::remove(m_plaintextFile))
            result.error = Error(Error::Kind::LocalStore, QString(),
                                 QStringLiteral("Cannot remove %1").arg(m_plaintextFile));
        break;
    }
    return result;
}

} // namespace Kernia
