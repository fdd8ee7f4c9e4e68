import QtQuick
import QtTest
import Kernia

TestCase {
    id: root
    name: "KerniaQml"

    readonly property int timeout: 30000

    KerniaClient {
        id: client
        serverUrl: testServerUrl
        dataDirectory: testDataRoot + "/main"
        keychainService: testKeychainPrefix + "main"
        requestTimeout: 5000
        retryInitialDelay: 100
        retryMaxDelay: 1000
        useSystemNetworkInformation: false
    }
    SignalSpy { id: registeredSpy; target: client; signalName: "guestRegistered" }
    SignalSpy { id: upgradedSpy; target: client; signalName: "guestUpgraded" }
    SignalSpy { id: finishedSpy; target: client; signalName: "finished" }

    Component {
        id: offlineClient
        KerniaClient {
            serverUrl: testDownUrl
            dataDirectory: testDataRoot + "/offline"
            keychainService: testKeychainPrefix + "offline"
            requestTimeout: 2000
            retryInitialDelay: 100
            retryMaxDelay: 1000
            useSystemNetworkInformation: false
        }
    }

    Component {
        id: shortLivedClient
        KerniaClient {
            serverUrl: testServerUrl
            dataDirectory: testDataRoot + "/short-lived"
            keychainService: testKeychainPrefix + "short-lived"
            useSystemNetworkInformation: false
        }
    }

    Component {
        id: viewClient
        KerniaClient {
            automaticGuest: false
            serverUrl: testServerUrl
            dataDirectory: testDataRoot + "/view"
            keychainService: testKeychainPrefix + "view"
            useSystemNetworkInformation: false
            property int boundState: state
            property string boundLocalId: user.localId || ""
            property bool boundHasClient: client !== null
        }
    }

    function uniqueEmail() {
        return "qml" + Date.now() + Math.floor(Math.random() * 1e6) + "@example.com"
    }

    function test_1_guestAtOnceThenRegistered() {
        compare(client.state, KerniaClient.Guest)
        verify(client.isAnonymous)
        verify(client.user.isAnonymous)
        verify(client.user.localId !== "")
        tryVerify(function() { return client.hasServerSession }, timeout)
        tryVerify(function() { return client.online }, timeout)
        compare(registeredSpy.count, 1)
        verify(client.user.id !== "")
        verify(!client.user.isLocalOnly)
        compare(registeredSpy.signalArguments[0][0].id, client.user.id)
    }

    function test_2_failedUpgradeKeepsGuest() {
        const guestId = client.user.id
        const reply = client.signUpEmail(uniqueEmail(), "short", "Q")
        verify(!reply.done)
        tryVerify(function() { return reply.done }, timeout)
        verify(!reply.ok)
        compare(reply.error.code, "PASSWORD_TOO_SHORT")
        compare(reply.error.httpStatus, 400)
        compare(client.lastError.code, "PASSWORD_TOO_SHORT")
        compare(client.state, KerniaClient.Guest)
        compare(client.user.id, guestId)
        compare(upgradedSpy.count, 0)
    }

    function test_3_upgradeBySignUp() {
        const guest = client.user
        const email = uniqueEmail()
        const reply = client.signUpEmail(email, "password123", "Qml User")
        let completedCount = 0
        reply.completed.connect(function() { completedCount++ })
        tryVerify(function() { return reply.done }, timeout)
        verify(reply.ok, JSON.stringify(reply.error))
        compare(completedCount, 1)
        compare(client.state, KerniaClient.SignedIn)
        verify(!client.isAnonymous)
        compare(client.user.email, email)
        compare(client.user.localId, guest.localId)
        compare(upgradedSpy.count, 1)
        compare(upgradedSpy.signalArguments[0][0].id, guest.id)
        compare(upgradedSpy.signalArguments[0][1].email, email)
        verify(!client.lastError.isError)
        compare(finishedSpy.signalArguments[finishedSpy.count - 1][0], "SignUpEmail")
    }

    function test_4_signOutAndWrongPassword() {
        const email = client.user.email
        const out = client.signOut()
        tryVerify(function() { return out.done }, timeout)
        verify(out.ok)
        compare(client.state, KerniaClient.SignedOut)
        verify(!client.user.isValid)

        const bad = client.signInEmail(email, "wrong-password")
        tryVerify(function() { return bad.done }, timeout)
        compare(bad.error.code, "INVALID_EMAIL_OR_PASSWORD")
        compare(client.lastError.code, "INVALID_EMAIL_OR_PASSWORD")
        compare(client.state, KerniaClient.SignedOut)

        const good = client.signInEmail(email, "password123")
        tryVerify(function() { return good.done }, timeout)
        verify(good.ok)
        compare(client.state, KerniaClient.SignedIn)
        compare(client.user.email, email)
    }

    function test_5_offlineGuest() {
        const c = createTemporaryObject(offlineClient, root)
        verify(c)
        compare(c.state, KerniaClient.Guest)          // at once, no server
        verify(c.user.isLocalOnly)
        tryVerify(function() { return c.lastError.code === "NETWORK_ERROR" }, timeout)
        verify(!c.online)
        const reply = c.signInEmail(uniqueEmail(), "password123")
        tryVerify(function() { return reply.done }, timeout)
        verify(reply.error.isTransient)
        compare(c.state, KerniaClient.Guest)
    }

    // The documented pattern (a handler that refers to its reply) must not keep the reply
    // alive: once completed it is JS-owned and the collector deletes it.
    function test_6_completedReplyWithHandlerIsCollected() {
        const n = 3
        const destroyedBefore = destructionWatch.destroyedCount()
        let completed = 0
        function start() {
            const reply = client.refreshSession()
            destructionWatch.watch(reply)
            reply.completed.connect(function () { if (reply.ok) completed++ })
        }
        for (let i = 0; i < n; ++i)
            start()
        tryVerify(function () { return completed === n }, timeout)
        const destroyed = function () { return destructionWatch.destroyedCount() - destroyedBefore }
        for (let i = 0; i < 50 && destroyed() < n; ++i) {
            gc()
            wait(20)   // runs the deferred deletes
        }
        compare(destroyed(), n)
    }

    // A KerniaClient destroyed with an operation in flight: the reply still completes,
    // once, with CANCELLED (its own Kernia::Client went with it).
    function test_7_destroyedClientCancelsPendingReply() {
        const c = shortLivedClient.createObject(root)
        let completed = 0
        const reply = c.signInEmail(uniqueEmail(), "password123")
        reply.completed.connect(function () { completed++ })
        verify(!reply.done)
        c.destroy()
        tryVerify(function () { return reply.done === true }, 5000)
        compare(reply.error.code, "CANCELLED")
        compare(reply.error.kind, "Cancelled")
        wait(50)
        compare(completed, 1)
    }

    // A shared client (`client`) destroyed elsewhere: the view's bindings follow, and its
    // calls say that there is no client, not that the component is incomplete.
    function test_8_sharedClientDestroyed() {
        const owner = shortLivedClient.createObject(root, { dataDirectory: testDataRoot + "/owner",
                                                            keychainService: testKeychainPrefix + "owner" })
        tryVerify(function () { return owner.ready }, timeout)
        const view = createTemporaryObject(viewClient, root)
        view.client = owner.client
        compare(view.boundState, KerniaClient.Guest)
        compare(view.boundLocalId, owner.user.localId)
        verify(view.boundHasClient)

        owner.destroy()   // and its Kernia::Client with it
        tryVerify(function () { return !view.boundHasClient }, 5000)
        compare(view.boundState, KerniaClient.SignedOut)
        compare(view.boundLocalId, "")
        compare(view.collection("cart"), null)
        const reply = view.signOut()
        tryVerify(function () { return reply.done }, 5000)
        compare(reply.error.code, "INVALID_STATE")
        verify(reply.error.message.indexOf("not complete") < 0, reply.error.message)
    }

    // An account deletes itself from QML (the test server mails, but this address is not
    // verified, so it deletes at once): accountDeleted, SignedOut, "DeleteAccount".
    function test_9_deleteAccount() {
        const c = createTemporaryObject(viewClient, root, { dataDirectory: testDataRoot + "/deleting",
                                                            keychainService: testKeychainPrefix + "deleting" })
        tryVerify(function () { return c.ready }, timeout)
        const deleted = createTemporaryObject(spyComponent, root, { target: c, signalName: "accountDeleted" })
        const finished = createTemporaryObject(spyComponent, root, { target: c, signalName: "finished" })
        const email = uniqueEmail()
        const up = c.signUpEmail(email, "password123", "Leaving")
        tryVerify(function () { return up.done }, timeout)
        verify(up.ok, JSON.stringify(up.error))

        const wrong = c.deleteAccount("wrong-password")
        tryVerify(function () { return wrong.done }, timeout)
        compare(wrong.error.code, "INVALID_PASSWORD")
        compare(c.state, KerniaClient.SignedIn)
        const reply = c.deleteAccount("password123")
        tryVerify(function () { return reply.done }, timeout)
        verify(reply.ok, JSON.stringify(reply.error))
        compare(c.state, KerniaClient.SignedOut)
        compare(deleted.count, 1)
        compare(deleted.signalArguments[0][0].email, email)
        compare(finished.signalArguments[finished.count - 1][0], "DeleteAccount")
        const link = c.completeAccountDeletion("myapp://delete")
        tryVerify(function () { return link.done }, timeout)
        compare(link.error.code, "INVALID_ARGUMENT")
    }

    Component { id: spyComponent; SignalSpy {} }
}
