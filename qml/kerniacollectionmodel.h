// CollectionModel — Kernia::CollectionModel for QML (`import Kernia`).
//
//   ListView {
//       model: CollectionModel {
//           collection: auth.collection("cart")   // auth: a KerniaClient
//           fields: ["name", "qty"]               // one role per top-level field
//       }
//       delegate: Label { text: id + ": " + name + " × " + qty + (pending ? " (not synced)" : "") }
//   }
//
// Roles: id, data (the whole record as an object), pending, updatedAt, and the `fields`.
#pragma once

#include <Kernia/Collection>

#include <QtQml/qqmlregistration.h>

class KerniaCollectionModel : public Kernia::CollectionModel
{
    Q_OBJECT
    QML_NAMED_ELEMENT(CollectionModel)

public:
    explicit KerniaCollectionModel(QObject *parent = nullptr) : Kernia::CollectionModel(parent) { }
};
