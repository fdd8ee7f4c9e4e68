// The shop's (fixed) catalog. The cart stores name and price with each line, so it
// shows the same on another device even if this list changes.
pragma Singleton
import QtQuick

QtObject {
    readonly property var items: [
        { id: "apples",  name: "Apples",      detail: "1 kg",      price: 3.20, color: "#ef4444" },
        { id: "bread",   name: "Sourdough",   detail: "800 g loaf",          price: 4.50, color: "#d97706" },
        { id: "cheese",  name: "Comté",       detail: "200 g",    price: 6.90, color: "#eab308" },
        { id: "coffee",  name: "Coffee",      detail: "250 g beans",  price: 8.40, color: "#78350f" },
        { id: "olives",  name: "Olives",      detail: "300 g jar",           price: 3.80, color: "#65a30d" },
        { id: "pasta",   name: "Pasta",       detail: "500 g",   price: 2.10, color: "#f59e0b" },
        { id: "tea",     name: "Green tea",   detail: "20 bags",     price: 4.20, color: "#059669" },
        { id: "wine",    name: "Red wine",    detail: "75 cl", price: 9.90, color: "#7f1d1d" }
    ]
}
