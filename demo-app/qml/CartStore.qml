// The cart: the Kernia collection "cart", one record per product:
//   id = product id, data = { name, price, qty }
// Writes are local (offline, at once); the SDK syncs them in the background.
import QtQuick
import Kernia

QtObject {
    id: store

    property Collection collection: null   // the collection "cart"
    // The cart's lines, for the cart view and the sums below. Not the catalog: a line of
    // a product this catalog lacks (another device's catalog) carries its name and price.
    readonly property CollectionModel lines: CollectionModel {
        collection: store.collection
        fields: ["name", "price", "qty"]
    }
    property int revision: 0               // bumped on every change of the lines, for bindings below

    readonly property int itemCount: revision, sum(function (line) { return line.qty })
    readonly property real total: revision, sum(function (line) { return line.qty * line.price })

    // The model's own signals: it has taken the change in when they fire.
    property Connections watcher: Connections {
        target: store.lines
        function onModelReset() { store.revision++ }
        function onRowsInserted() { store.revision++ }
        function onRowsRemoved() { store.revision++ }
        function onDataChanged() { store.revision++ }
    }

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
        for (let row = 0; row < lines.count; ++row) {
            const data = lines.recordAt(row).data
            if (data.qty)
                result += valueOf({ qty: data.qty, price: data.price || 0 })
        }
        return result
    }
}
