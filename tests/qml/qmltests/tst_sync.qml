import QtQuick
import QtTest
import Kernia

// Collections from QML: KerniaClient.collection(), CollectionModel, syncState,
// pendingChanges, syncNow().
TestCase {
    id: root
    name: "KerniaQmlSync"

    readonly property int timeout: 30000

    KerniaClient {
        id: client
        serverUrl: testServerUrl
        dataDirectory: testDataRoot + "/sync"
        keychainService: testKeychainPrefix + "sync"
        requestTimeout: 5000
        retryInitialDelay: 100
        retryMaxDelay: 1000
        useSystemNetworkInformation: false
    }
    SignalSpy { id: syncedSpy; target: client; signalName: "synced" }

    Repeater {
        id: rows
        model: CollectionModel {
            id: cartModel
            collection: client.collection("cart")
            fields: ["name", "qty"]
        }
        delegate: Item {
            property string recordId: id
            property var recordName: name
            property var recordQty: qty
            property bool recordPending: pending
        }
    }

    function test_1_collectionModelAndSync() {
        tryVerify(function() { return client.hasServerSession }, timeout)
        const cart = client.collection("cart")
        verify(cart !== null)
        compare(cart.name, "cart")
        compare(cartModel.collection, cart)

        verify(!cart.put("b", { name: "Bread", qty: 1 }).isError)
        verify(!cart.put("a", { name: "Apple", qty: 2 }).isError)
        verify(!cart.patch("a", { qty: 3 }).isError)
        compare(cart.count, 2)
        compare(cart.value("a").qty, 3)
        compare(cart.value("a").name, "Apple")
        // The error reads like KerniaReply.error and lastError: kind by name.
        const bad = cart.put("", {})
        verify(bad.isError)
        compare(bad.kind, "InvalidArgument")
        compare(bad.code, "INVALID_ARGUMENT")
        verify(bad.message.length > 0)
        compare(bad.httpStatus, 0)
        verify(!bad.isTransient)
        compare(cart.patch("a", { qty: 3 }).kind, "None")

        compare(rows.count, 2)
        compare(rows.itemAt(0).recordId, "a")
        compare(rows.itemAt(0).recordName, "Apple")
        compare(rows.itemAt(0).recordQty, 3)
        compare(rows.itemAt(1).recordId, "b")

        // Pushed in the background, or now.
        const reply = client.syncNow()
        tryVerify(function() { return reply.done }, timeout)
        verify(reply.ok, reply.error.message)
        tryVerify(function() { return client.pendingChanges === 0 }, timeout)
        compare(client.syncState, "idle")
        verify(syncedSpy.count >= 1)
        tryVerify(function() { return !rows.itemAt(0).recordPending }, timeout)

        verify(!cart.remove("b").isError)
        compare(rows.count, 1)
        tryVerify(function() { return client.pendingChanges === 0 }, timeout)
    }
}
