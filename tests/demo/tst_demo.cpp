// tst_demo — the demo app's real window, driven like a user, against a real kernia-server:
// a guest fills the cart, signs up, and the cart is still there (in the UI and on the
// server, read back by a second client). Saves demo-guest-cart.png next to this binary.
#include "demoapp.h"
#include "testsupport.h"

#include <Kernia/Client>
#include <Kernia/Collection>

#include <QtCore/QJsonArray>
#include <QtGui/QGuiApplication>
#include <QtGui/QImage>
#include <QtQml/QQmlApplicationEngine>
#include <QtQml/qqmlextensionplugin.h>
#include <QtQuick/QQuickItem>
#include <QtQuick/QQuickWindow>
#include <QtTest/QtTest>

#include <memory>

Q_IMPORT_QML_PLUGIN(KerniaDemoPlugin)

using namespace KerniaTest;

namespace {
constexpr int Timeout = 30000;   // every wait is bounded by this (ms)

QObject *findByName(QObject *root, const QString &name)
{
    if (!root)
        return nullptr;
    if (root->objectName() == name)
        return root;
    for (QObject *child : root->children())
        if (QObject *found = findByName(child, name))
            return found;
    if (auto *item = qobject_cast<QQuickItem *>(root)) {
        for (QQuickItem *child : item->childItems())
            if (QObject *found = findByName(child, name))
                return found;
    }
    return nullptr;
}
} // namespace

class tst_Demo : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void offlineFirstLaunch();
    void cartCountsLinesNotInCatalog();
    void lostGuestSessionOffersCart();
    void guestFillsCart();
    void buttonsSayWhatTheyDo();
    void signUpKeepsCart();
    void cartIsOnServer();
    void signOutAndBackIn();
    void screenshot();
    void lostAccountSessionSaysSignIn();
    void deleteAccountTakesTwoClicks();
    void cleanupTestCase();

private:
    struct SideWindow;
    void saveScreenshot(const QString &name);
    bool revokeSession(const QString &keychainService);
    bool visible(const QString &name) const
    {
        QQuickItem *i = item(name);
        return i && i->isVisible();
    }
    QObject *object(const QString &name) const
    {
        QObject *o = findByName(m_window, name);
        if (!o)
            o = findByName(m_window->contentItem(), name);
        return o;
    }
    QQuickItem *item(const QString &name) const { return qobject_cast<QQuickItem *>(object(name)); }
    QString text(const QString &name) const
    {
        QObject *o = object(name);
        return o ? o->property("text").toString() : QStringLiteral("<no %1>").arg(name);
    }
    // Waits (bounded) for one rendered frame, so pending polish (layouts of items that
    // just appeared or moved) is done and scene positions are current.
    void settle()
    {
        QSignalSpy frame(m_window, &QQuickWindow::frameSwapped);
        m_window->update();
        frame.wait(2000);
    }
    bool click(const QString &name)
    {
        settle();
        QQuickItem *target = nullptr;
        // e.g. a row that is still being created, or a button disabled while the client is busy
        const bool ready = QTest::qWaitFor([&] {
            target = item(name);
            return target && target->isVisible() && target->isEnabled();
        }, Timeout);
        if (ready)
            settle();
        if (!ready) {
            qWarning() << "cannot click" << name << target;
            return false;
        }
        const QPointF center = target->mapToScene(QPointF(target->width() / 2, target->height() / 2));
        QTest::mouseClick(m_window, Qt::LeftButton, Qt::NoModifier, center.toPoint());
        return true;
    }
    bool type(const QString &field, const QString &value)
    {
        if (!click(field))
            return false;
        if (!QTest::qWaitFor([&] { return item(field)->hasActiveFocus(); }, Timeout))
            return false;
        for (const QChar c : value)   // QTest::keyClicks() has no QWindow overload
            QTest::keyClick(m_window, c.toLatin1());
        if (text(field) != value)
            qWarning() << "typed into" << field << "but it holds" << text(field);
        return text(field) == value;
    }
    QVariant client(const char *property) const { return m_kernia->property(property); }
    // The sign-in/up operations reported by KerniaClient::finished, in order.
    static QStringList operations(const QSignalSpy &finished)
    {
        QStringList ops;
        for (const QList<QVariant> &args : finished) {
            const QString op = args.at(0).toString();
            if (op.startsWith(QLatin1String("SignUp")) || op.startsWith(QLatin1String("SignIn")))
                ops << op;
        }
        return ops;
    }
    Kernia::Client *sdkClient() const { return m_kernia->property("client").value<Kernia::Client *>(); }

    TestServer m_server;
    QTemporaryDir m_dataDir;
    QQmlApplicationEngine *m_engine = nullptr;
    QQuickWindow *m_window = nullptr;
    QObject *m_kernia = nullptr;
    QString m_keychainService;
    QString m_email;
    const QString m_password = QStringLiteral("password123");
};

// Another window of the demo, e.g. another device; the helpers act on it while it lives.
struct tst_Demo::SideWindow
{
    SideWindow(tst_Demo *test, const QUrl &serverUrl, const QString &dataDirectory = QString(),
               const QString &keychainService = QString())
        : test(test), mainWindow(test->m_window), mainKernia(test->m_kernia)
    {
        options.serverUrl = serverUrl;
        options.dataDirectory = dataDirectory.isEmpty() ? dir.path() : dataDirectory;
        options.keychainService = keychainService.isEmpty()
                ? QStringLiteral("kernia-demo-test:") + QUuid::createUuid().toString(QUuid::Id128)
                : keychainService;
    }
    ~SideWindow()
    {
        test->m_window = mainWindow;
        test->m_kernia = mainKernia;
    }
    // Loads the window (again, e.g. for a restart) and waits until it is shown.
    bool open()
    {
        engine.reset();   // the previous instance and its client go first
        engine = std::make_unique<QQmlApplicationEngine>();
        test->m_window = KerniaDemo::load(*engine, options);
        test->m_kernia = test->m_window ? test->object(QStringLiteral("kernia")) : nullptr;
        return test->m_kernia && QTest::qWaitForWindowExposed(test->m_window, Timeout);
    }

    tst_Demo *test;
    QQuickWindow *mainWindow;
    QObject *mainKernia;
    QTemporaryDir dir;
    KerniaDemo::Options options;
    std::unique_ptr<QQmlApplicationEngine> engine;
};

// First launch with no server at all: a guest at once, and the cart works.
void tst_Demo::offlineFirstLaunch()
{
    SideWindow side(this, QUrl(QStringLiteral("http://127.0.0.1:%1").arg(freePort())));   // nobody listens
    QVERIFY(side.open());
    QVERIFY(text(QStringLiteral("identityChip")).startsWith(QStringLiteral("Guest")));
    QVERIFY(click(QStringLiteral("add_tea")));
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("qty_tea")), QStringLiteral("1"), Timeout);
    QCOMPARE(text(QStringLiteral("cartTotal")), QStringLiteral("€4.20"));
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("onlineChip")), QStringLiteral("Offline"), Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("pendingChip")), QStringLiteral("1 pending change"), Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("syncChip")), QStringLiteral("Not synced (offline)"), Timeout);
}

// A line of a product this catalog does not have (another device's catalog): shown, and
// counted in the item count and the total with the name and price it carries.
void tst_Demo::cartCountsLinesNotInCatalog()
{
    SideWindow side(this, QUrl(QStringLiteral("http://127.0.0.1:%1").arg(freePort())));
    QVERIFY(side.open());
    QVERIFY(click(QStringLiteral("add_tea")));
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("qty_tea")), QStringLiteral("1"), Timeout);
    Kernia::Collection *cart = sdkClient()->collection(QStringLiteral("cart"));
    QCOMPARE(cart->put(QStringLiteral("bananas"), QJsonObject{ { QStringLiteral("name"), QStringLiteral("Bananas") },
                                                              { QStringLiteral("price"), 1.5 },
                                                              { QStringLiteral("qty"), 2 } }),
             Kernia::Error());
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("qty_bananas")), QStringLiteral("2"), Timeout);
    QCOMPARE(text(QStringLiteral("cartSummary")), QStringLiteral("3 items"));
    QCOMPARE(text(QStringLiteral("cartTotal")), QStringLiteral("€7.20"));   // 4.20 + 2 × 1.50
}

// The server forgets a guest's session (here: revoked while the app is closed). The app
// starts as a new, empty guest and offers the old cart: Restore brings it back; the next
// time, Discard drops it.
void tst_Demo::lostGuestSessionOffersCart()
{
    SideWindow side(this, m_server.url());
    QVERIFY(side.open());
    QVERIFY(!visible(QStringLiteral("sessionBanner")));
    QTRY_VERIFY_WITH_TIMEOUT(client("hasServerSession").toBool(), Timeout);
    QVERIFY(click(QStringLiteral("add_apples")));
    QVERIFY(click(QStringLiteral("add_tea")));
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("cartSummary")), QStringLiteral("2 items"), Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(client("pendingChanges").toInt(), 0, Timeout);
    QVERIFY(revokeSession(side.options.keychainService));

    QVERIFY(side.open());   // a restart
    QTRY_VERIFY_WITH_TIMEOUT(visible(QStringLiteral("sessionBanner")), Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("sessionTitle")), QStringLiteral("Restore your previous cart?"), Timeout);
    QVERIFY2(text(QStringLiteral("sessionMessage")).contains(QStringLiteral("no longer knows this session")),
             qPrintable(text(QStringLiteral("sessionMessage"))));
    QVERIFY(text(QStringLiteral("identityChip")).startsWith(QStringLiteral("Guest")));
    QCOMPARE(text(QStringLiteral("cartSummary")), QStringLiteral("0 items"));   // the new guest's
    QVERIFY(click(QStringLiteral("restoreButton")));
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("qty_apples")), QStringLiteral("1"), Timeout);
    QCOMPARE(text(QStringLiteral("qty_tea")), QStringLiteral("1"));
    QCOMPARE(text(QStringLiteral("cartSummary")), QStringLiteral("2 items"));
    QTRY_VERIFY_WITH_TIMEOUT(!visible(QStringLiteral("sessionBanner")), Timeout);
    QTRY_VERIFY_WITH_TIMEOUT(client("hasServerSession").toBool(), Timeout);   // the new guest
    QTRY_COMPARE_WITH_TIMEOUT(client("pendingChanges").toInt(), 0, Timeout);   // its cart synced

    QVERIFY(revokeSession(side.options.keychainService));
    QVERIFY(side.open());
    QTRY_VERIFY_WITH_TIMEOUT(visible(QStringLiteral("discardButton")), Timeout);
    QVERIFY(click(QStringLiteral("discardButton")));
    QTRY_VERIFY_WITH_TIMEOUT(!visible(QStringLiteral("sessionBanner")), Timeout);
    QVERIFY(client("offeredLocalData").toStringList().isEmpty());
    QCOMPARE(text(QStringLiteral("cartSummary")), QStringLiteral("0 items"));
}

void tst_Demo::initTestCase()
{
    QVERIFY2(m_server.start(), qPrintable(m_server.output()));
    KerniaDemo::Options options;
    options.serverUrl = m_server.url();
    options.dataDirectory = m_dataDir.path();
    options.keychainService = QStringLiteral("kernia-demo-test:") + QUuid::createUuid().toString(QUuid::Id128);
    m_keychainService = options.keychainService;
    m_engine = new QQmlApplicationEngine(this);
    m_window = KerniaDemo::load(*m_engine, options);
    QVERIFY(m_window);
    QVERIFY(QTest::qWaitForWindowExposed(m_window, Timeout));
    m_kernia = object(QStringLiteral("kernia"));
    QVERIFY(m_kernia);
    m_email = QStringLiteral("alice@example.com");   // the server is fresh for every run
}

void tst_Demo::guestFillsCart()
{
    // A guest from the first launch, before the server has even answered.
    QVERIFY2(text(QStringLiteral("identityChip")).startsWith(QStringLiteral("Guest")),
             qPrintable(text(QStringLiteral("identityChip"))));
    QCOMPARE(text(QStringLiteral("cartSummary")), QStringLiteral("0 items"));

    QVERIFY(click(QStringLiteral("add_apples")));
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("qty_apples")), QStringLiteral("1"), Timeout);
    QVERIFY(click(QStringLiteral("add_apples")));
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("qty_apples")), QStringLiteral("2"), Timeout);
    QVERIFY(click(QStringLiteral("add_coffee")));
    QVERIFY(click(QStringLiteral("add_olives")));
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("qty_olives")), QStringLiteral("1"), Timeout);

    // quantity + / − and remove
    QVERIFY(click(QStringLiteral("inc_coffee")));
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("qty_coffee")), QStringLiteral("2"), Timeout);
    QVERIFY(click(QStringLiteral("dec_coffee")));
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("qty_coffee")), QStringLiteral("1"), Timeout);
    QVERIFY(click(QStringLiteral("remove_olives")));
    QTRY_VERIFY_WITH_TIMEOUT(!item(QStringLiteral("cartRow_olives")), Timeout);

    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("cartSummary")), QStringLiteral("3 items"), Timeout);
    QCOMPARE(text(QStringLiteral("cartTotal")), QStringLiteral("€14.80"));   // 2 × 3.20 + 8.40

    // The guest registers with the server by itself and its cart syncs.
    QTRY_VERIFY_WITH_TIMEOUT(client("hasServerSession").toBool(), Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("onlineChip")), QStringLiteral("Online"), Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(client("pendingChanges").toInt(), 0, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("syncChip")), QStringLiteral("Synced"), Timeout);
}

// The repeated buttons (Add, −, +, ×) name their product for a screen reader, and the
// custom buttons show keyboard focus.
void tst_Demo::buttonsSayWhatTheyDo()
{
    QAccessible::setActive(true);   // as with a screen reader: the controls fill in their accessible names
    const auto name = [this](const QString &objectName) {
        QAccessibleInterface *a = QAccessible::queryAccessibleInterface(item(objectName));
        return a ? a->text(QAccessible::Name) : QStringLiteral("<no accessible %1>").arg(objectName);
    };
    QCOMPARE(name(QStringLiteral("add_tea")), QStringLiteral("Add Green tea"));
    QCOMPARE(name(QStringLiteral("add_apples")), QStringLiteral("Add Apples, 2 in the cart"));
    QCOMPARE(name(QStringLiteral("dec_coffee")), QStringLiteral("Decrease Coffee"));
    QCOMPARE(name(QStringLiteral("inc_coffee")), QStringLiteral("Increase Coffee"));
    QCOMPARE(name(QStringLiteral("remove_coffee")), QStringLiteral("Remove Coffee"));

    object(QStringLiteral("emailField"))->setProperty("text", QStringLiteral("x"));   // enables Create account
    object(QStringLiteral("passwordField"))->setProperty("text", QStringLiteral("x"));
    for (const QString &button : { QStringLiteral("add_tea"), QStringLiteral("inc_coffee"),
                                   QStringLiteral("signUpButton") }) {
        QQuickItem *control = item(button);
        auto *background = control->property("background").value<QQuickItem *>();
        QVERIFY(background && !background->childItems().isEmpty());
        QQuickItem *ring = background->childItems().constLast();
        QVERIFY2(!ring->isVisible(), qPrintable(button));
        control->forceActiveFocus(Qt::TabFocusReason);   // as by Tab: visualFocus
        QTRY_VERIFY2_WITH_TIMEOUT(ring->isVisible(), qPrintable(button), Timeout);
    }
    object(QStringLiteral("emailField"))->setProperty("text", QString());
    object(QStringLiteral("passwordField"))->setProperty("text", QString());
    QAccessible::setActive(false);
}

void tst_Demo::signUpKeepsCart()
{
    QVERIFY(type(QStringLiteral("emailField"), m_email));
    QVERIFY(type(QStringLiteral("passwordField"), m_password));
    saveScreenshot(QStringLiteral("demo-guest-cart-guest.png"));   // the guest, about to sign up
    // Enter in the password field is Create account for a guest. A second Enter while the
    // first request is on its way does nothing (the button is disabled).
    QSignalSpy finished(m_kernia, SIGNAL(finished(QString,QVariantMap)));
    QVERIFY(item(QStringLiteral("passwordField"))->hasActiveFocus());
    QTest::keyClick(m_window, Qt::Key_Return);
    QTest::keyClick(m_window, Qt::Key_Return);

    QTRY_COMPARE_WITH_TIMEOUT(client("state").toInt(), 2 /* KerniaClient.SignedIn */, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("identityChip")), m_email, Timeout);
    QTRY_VERIFY_WITH_TIMEOUT(!client("busy").toBool(), Timeout);
    QTest::qWait(200);   // room for a second request's answer, were there one
    QCOMPARE(operations(finished), QStringList{ QStringLiteral("SignUpEmail") });
    QCOMPARE(text(QStringLiteral("accountError")), QString());

    // The guest's cart is the account's cart now.
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("qty_apples")), QStringLiteral("2"), Timeout);
    QCOMPARE(text(QStringLiteral("qty_coffee")), QStringLiteral("1"));
    QVERIFY(!item(QStringLiteral("cartRow_olives")));
    QCOMPARE(text(QStringLiteral("cartSummary")), QStringLiteral("3 items"));
    QTRY_COMPARE_WITH_TIMEOUT(client("pendingChanges").toInt(), 0, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("syncChip")), QStringLiteral("Synced"), Timeout);
}

void tst_Demo::cartIsOnServer()
{
    // A second client: sign in to the account over HTTP and pull its records.
    const RawReply signIn = rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-in/email")),
                                       QJsonObject{ { QStringLiteral("email"), m_email },
                                                    { QStringLiteral("password"), m_password } });
    QCOMPARE(signIn.status, 200);
    QVERIFY(!signIn.setAuthToken.isEmpty());

    QUrl pullUrl = m_server.url();
    pullUrl.setPath(QStringLiteral("/api/sync/pull"));
    pullUrl.setQuery(QStringLiteral("since=0&limit=1000"));
    const RawReply pull = rawRequest("GET", pullUrl, {}, signIn.setAuthToken);
    QCOMPARE(pull.status, 200);

    QHash<QString, QJsonObject> cart;
    QSet<QString> deleted;
    for (const QJsonValue &v : pull.body.toObject().value(QStringLiteral("changes")).toArray()) {
        const QJsonObject change = v.toObject();
        if (change.value(QStringLiteral("collection")).toString() != QLatin1String("cart"))
            continue;
        const QString id = change.value(QStringLiteral("id")).toString();
        if (change.value(QStringLiteral("deleted")).toBool())
            deleted.insert(id);
        else
            cart.insert(id, change.value(QStringLiteral("data")).toObject());
    }
    QCOMPARE(cart.size(), 2);
    QCOMPARE(cart.value(QStringLiteral("apples")).value(QStringLiteral("qty")).toInt(), 2);
    QCOMPARE(cart.value(QStringLiteral("apples")).value(QStringLiteral("name")).toString(), QStringLiteral("Apples"));
    QCOMPARE(cart.value(QStringLiteral("coffee")).value(QStringLiteral("qty")).toInt(), 1);
    QVERIFY(!cart.contains(QStringLiteral("olives")));
}

// Signing out empties the view (nobody's cart); signing in again brings the cart back.
void tst_Demo::signOutAndBackIn()
{
    QVERIFY(click(QStringLiteral("signOutButton")));
    QTRY_COMPARE_WITH_TIMEOUT(client("state").toInt(), 0 /* KerniaClient.SignedOut */, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("identityChip")).left(10), QStringLiteral("Signed out"), Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("cartSummary")), QStringLiteral("0 items"), Timeout);
    QVERIFY(!item(QStringLiteral("add_apples"))->isEnabled());

    QVERIFY(type(QStringLiteral("passwordField"), m_password));   // the email field kept its text
    QCOMPARE(text(QStringLiteral("emailField")), m_email);
    // The sign-out finishes (keychain removal) whenever it does; a password typed in the
    // meantime must survive it.
    QTRY_VERIFY_WITH_TIMEOUT(!client("busy").toBool(), Timeout);
    QCOMPARE(text(QStringLiteral("passwordField")), m_password);

    // A returning user's Enter signs in (the highlighted default), not up; with the email
    // empty it does nothing, as the disabled button would.
    QTRY_VERIFY_WITH_TIMEOUT(item(QStringLiteral("signInButton"))->isEnabled(), Timeout);
    QSignalSpy finished(m_kernia, SIGNAL(finished(QString,QVariantMap)));
    object(QStringLiteral("emailField"))->setProperty("text", QString());
    QVERIFY(item(QStringLiteral("passwordField"))->hasActiveFocus());
    QTest::keyClick(m_window, Qt::Key_Return);
    QTest::qWait(200);
    QCOMPARE(operations(finished), QStringList());
    object(QStringLiteral("emailField"))->setProperty("text", m_email);
    QTest::keyClick(m_window, Qt::Key_Return);
    QTRY_COMPARE_WITH_TIMEOUT(client("state").toInt(), 2 /* KerniaClient.SignedIn */, Timeout);
    QCOMPARE(operations(finished), QStringList{ QStringLiteral("SignInEmail") });
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("qty_apples")), QStringLiteral("2"), Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("qty_coffee")), QStringLiteral("1"), Timeout);
    QCOMPARE(text(QStringLiteral("cartTotal")), QStringLiteral("€14.80"));
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("syncChip")), QStringLiteral("Synced"), Timeout);
}

void tst_Demo::screenshot()
{
    saveScreenshot(QStringLiteral("demo-guest-cart.png"));   // signed in, same cart
}

// The server forgets the account's session: signed out, the banner says why and that
// signing in again brings the cart back (nothing to restore into: no user).
void tst_Demo::lostAccountSessionSaysSignIn()
{
    QCOMPARE(client("state").toInt(), 2 /* KerniaClient.SignedIn */);
    QVERIFY(revokeSession(m_keychainService));
    sdkClient()->refreshSession();
    QTRY_COMPARE_WITH_TIMEOUT(client("state").toInt(), 0 /* KerniaClient.SignedOut */, Timeout);
    QTRY_VERIFY_WITH_TIMEOUT(visible(QStringLiteral("sessionBanner")), Timeout);
    QCOMPARE(text(QStringLiteral("sessionTitle")), QStringLiteral("You were signed out"));
    const QString message = text(QStringLiteral("sessionMessage"));
    QVERIFY2(message.contains(QStringLiteral("no longer knows this session"))
                     && message.contains(QStringLiteral("Sign in again")), qPrintable(message));
    QVERIFY(!visible(QStringLiteral("restoreButton")));

    QVERIFY(type(QStringLiteral("passwordField"), m_password));
    QCOMPARE(text(QStringLiteral("emailField")), m_email);
    QTRY_VERIFY_WITH_TIMEOUT(item(QStringLiteral("signInButton"))->isEnabled(), Timeout);
    QTest::keyClick(m_window, Qt::Key_Return);
    QTRY_COMPARE_WITH_TIMEOUT(client("state").toInt(), 2 /* KerniaClient.SignedIn */, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("qty_apples")), QStringLiteral("2"), Timeout);
    QVERIFY(!visible(QStringLiteral("sessionBanner")));
}

// Ends the session of the token in keychainService on the server, as an expiry or a
// sign-out elsewhere would.
bool tst_Demo::revokeSession(const QString &keychainService)
{
    if (!QTest::qWaitFor([&] { return readToken(keychainService).error == QKeychain::NoError; }, Timeout))
        return false;
    const QByteArray token = readToken(keychainService).value.toUtf8();
    return rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-out")), {}, token).status == 200;
}

// The first click only arms the button; the second deletes the account on the server and
// leaves the app signed out with an empty cart.
void tst_Demo::deleteAccountTakesTwoClicks()
{
    QCOMPARE(client("state").toInt(), 2 /* KerniaClient.SignedIn */);
    QTRY_VERIFY_WITH_TIMEOUT(!client("busy").toBool(), Timeout);
    const QString unarmed = text(QStringLiteral("deleteAccountButton"));
    QVERIFY(click(QStringLiteral("deleteAccountButton")));
    QVERIFY(text(QStringLiteral("deleteAccountButton")) != unarmed);
    QTest::qWait(200);
    QCOMPARE(client("state").toInt(), 2 /* KerniaClient.SignedIn */);   // not yet

    QSignalSpy finished(m_kernia, SIGNAL(finished(QString,QVariantMap)));
    QVERIFY(click(QStringLiteral("deleteAccountButton")));
    QTRY_COMPARE_WITH_TIMEOUT(client("state").toInt(), 0 /* KerniaClient.SignedOut */, Timeout);
    const auto deleted = [&finished] {   // finished comes after the keychain removal
        for (const QList<QVariant> &args : finished) {
            if (args.at(0).toString() == QLatin1String("DeleteAccount"))
                return !args.at(1).toMap().value(QStringLiteral("isError")).toBool();
        }
        return false;
    };
    QTRY_VERIFY_WITH_TIMEOUT(deleted(), Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(text(QStringLiteral("cartSummary")), QStringLiteral("0 items"), Timeout);
    QCOMPARE(text(QStringLiteral("accountError")), QString());
    const RawReply signIn = rawRequest("POST", api(m_server.url(), QStringLiteral("/sign-in/email")),
                                       QJsonObject{ { QStringLiteral("email"), m_email },
                                                    { QStringLiteral("password"), m_password } });
    QCOMPARE(signIn.status, 401);   // the account is gone on the server
}

void tst_Demo::saveScreenshot(const QString &name)
{
    const QImage image = m_window->grabWindow();
    QVERIFY(!image.isNull());
    QVERIFY(image.width() >= 800 && image.height() >= 500);
    const QString file = QCoreApplication::applicationDirPath() + QLatin1Char('/') + name;
    QVERIFY2(image.save(file), qPrintable(file));
    qInfo("screenshot: %s", qPrintable(file));
}

void tst_Demo::cleanupTestCase()
{
    delete m_engine;   // the window and the client go before the server
    m_engine = nullptr;
    m_server.kill();
}

QTEST_MAIN(tst_Demo)

#include "tst_demo.moc"
