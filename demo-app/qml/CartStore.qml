// The cart: the Kernia collection "cart", one record per product:
//   id = product id, data = { name, price, qty }
// Writes are local (offline, at once); the SDK syncs them in the background.
import QtQuick

QtObject {
    id: store

    property var collection: null          // Kernia::Collection "cart"
    property int revision: 0               // bumped on every change, for bindings below

    readonly property int itemCount: revision, sum(function (line) { return line.qty })
    readonly property real total: revision, sum(function (line) { return line.qty * line.price })

    property Connections watcher: Connections {
        target: store.collection
        function onChanged() { store.revision++ }
    }
    onCollectionChanged: revision++

    function line(id) {
        return collection ? collection.value(id) : ({})
    }

    function quantity(id) {
        return line(id).qty || 0
    }

    function add(product) {
        if (!collection)
            return
        const qty = quantity(product.id)
        if (qty > 0)
            collection.patch(product.id, { qty: qty + 1 })
        else
            collection.put(product.id, { name: product.name, price: product.price, qty: 1 })
    }

    function setQuantity(id, qty) {
        if (!collection)
            return
        if (qty <= 0)
            collection.remove(id)
        else
            collection.patch(id, { qty: qty })
    }

    function remove(id) {
        if (collection)
            collection.remove(id)
    }

    function sum(valueOf) {
        let result = 0
        for (const product of Catalog.items) {
            const data = line(product.id)
            if (data.qty)
                result += valueOf({ qty: data.qty, price: data.price || product.price })
        }
        return result
    }
}
