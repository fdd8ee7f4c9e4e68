// SIGTERM / SIGINT delivered to the Qt event loop: the handler only writes the signal
// number to a socketpair (async-signal-safe); a QSocketNotifier on the other end emits
// received() on the thread that created the object.
//
//   ShutdownSignals signals;
//   QObject::connect(&signals, &ShutdownSignals::received, [&](int signo) { ... });
//
// One instance per process; the destructor restores the default handlers.
#pragma once

#include <QObject>

class QSocketNotifier;

namespace Kernia::Server {

class ShutdownSignals : public QObject
{
    Q_OBJECT
public:
    explicit ShutdownSignals(QObject *parent = nullptr);
    ~ShutdownSignals() override;

    bool isInstalled() const { return m_notifier != nullptr; }
    static const char *name(int signalNumber);   // "SIGTERM", "SIGINT"

Q_SIGNALS:
    void received(int signalNumber);

private:
    void drain();

    QSocketNotifier *m_notifier = nullptr;
};

} // namespace Kernia::Server
